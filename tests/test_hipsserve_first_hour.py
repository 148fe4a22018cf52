"""hipsserve as a new user meets it in the first hour (issue "The first hour", #14), against the real binaries:

- a second server on a port another process holds exits non-zero naming the port (whatever its worker layout);
- `hipsserve --root hips-demo --coadd-root hips-demo/coadds` (relative paths) serves the demo with progenitors and a
  SODA cutout whose ID is taken from the progenitors answer; a missing coadd root stops the start;
- no public answer (properties, HpxFinder objects, progenitors, SODA errors, hipslist, 404 texts) names a server path;
- /hipslist carries hips_service_url without --public-url, from the request (forwarded headers only from a trusted
  proxy);
- the shipped config/hipsserve.toml starts as it is.
"""

import json
import os
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from io import BytesIO
from pathlib import Path

import pytest

from browser_util import hipsserve


def get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("HIPSSERVE_")}


@pytest.mark.parametrize("workers", ["2", "1", "0"])
def test_a_second_server_on_a_busy_port_exits_naming_the_port(hipsserve_bin, shared_data, workers):
    root = str(shared_data / "reference_hips")
    with hipsserve(hipsserve_bin, "--root", root, "--listen", "127.0.0.1:0", "--workers", "2",
                   "--no-access-log") as url:
        port = url.rsplit(":", 1)[1]
        r = subprocess.run([str(hipsserve_bin), "--root", root, "--listen", f"127.0.0.1:{port}", "--workers", workers],
                           capture_output=True, text=True, timeout=60, env=clean_env())
        assert r.returncode != 0, "a second server must not share the port"
        assert f"port {port}" in r.stderr and "in use" in r.stderr, r.stderr
        assert "listening" not in r.stdout
        # The first server still answers every request.
        for _ in range(20):
            assert get(f"{url}/CFHT/properties")[0] == 200
