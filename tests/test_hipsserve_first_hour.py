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


def service_urls(body: bytes) -> list[str]:
    return re.findall(r"^hips_service_url\s*=\s*(\S+)$", body.decode(), re.M)


def test_hipslist_service_urls_without_public_url(hipsserve_bin, shared_data, tmp_path):
    root = str(shared_data / "reference_hips")
    with hipsserve(hipsserve_bin, "--root", root, "--listen", "127.0.0.1:0", "--no-access-log") as url:
        status, body = get(f"{url}/hipslist")
        assert status == 200
        urls = service_urls(body)
        assert urls and f"{url}/CFHT" in urls, body.decode()
        assert all(u.startswith(url + "/") for u in urls)
        # The tiles are where the list says.
        assert get(f"{url}/CFHT/properties")[0] == 200
        # Another Host, another base; forwarded headers are not believed by default.
        status, body = get(f"{url}/hipslist", {"Host": "hips.example.net:8443", "X-Forwarded-Host": "evil.example",
                                               "X-Forwarded-Proto": "https"})
        assert "http://hips.example.net:8443/CFHT" in service_urls(body), body.decode()
        assert b"evil.example" not in body
    # Behind a trusted proxy (here the test itself, from 127.0.0.1) the forwarded headers give the base.
    cfg = tmp_path / "proxy.toml"
    cfg.write_text('trusted_proxies = ["127.0.0.1"]\n')
    with hipsserve(hipsserve_bin, "--root", root, "--listen", "127.0.0.1:0", "--config", str(cfg)) as url:
        status, body = get(f"{url}/hipslist", {"X-Forwarded-Host": "hips.example.org", "X-Forwarded-Proto": "https"})
        assert "https://hips.example.org/CFHT" in service_urls(body), body.decode()
    # --public-url still wins.
    with hipsserve(hipsserve_bin, "--root", root, "--listen", "127.0.0.1:0", "--public-url", "https://a.example/h/",
                   "--no-access-log") as url:
        assert "https://a.example/h/CFHT" in service_urls(get(f"{url}/hipslist")[1])


def test_start_warns_without_public_url_and_trusted_proxies(hipsserve_bin, shared_data):
    p = subprocess.Popen([str(hipsserve_bin), "--root", str(shared_data / "reference_hips"), "--listen",
                          "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
    try:
        assert "listening" in p.stdout.readline()
    finally:
        p.terminate()
        _, err = p.communicate(timeout=20)
    assert "neither public_url nor trusted_proxies is set" in err, err[-2000:]
    assert "max_order=3" in err or re.search(r"max_order=\d+ ", err), err[-2000:]
    assert "Some(" not in err and "access=public" in err, err[-2000:]


def test_a_missing_coadd_root_stops_the_start(hipsserve_bin, shared_data, tmp_path):
    r = subprocess.run([str(hipsserve_bin), "--root", str(shared_data / "reference_hips"), "--listen", "127.0.0.1:0",
                        "--coadd-root", "no-such-coadds"], capture_output=True, text=True, timeout=60,
                       env=clean_env(), cwd=tmp_path)
    assert r.returncode != 0
    assert "no-such-coadds" in r.stderr and "coadd root" in r.stderr, r.stderr


def test_the_shipped_config_starts_as_it_is(hipsserve_bin, repo_root, shared_data):
    with hipsserve(hipsserve_bin, "--config", str(repo_root / "config" / "hipsserve.toml"), "--root",
                   str(shared_data / "reference_hips"), "--listen", "127.0.0.1:0") as url:
        assert get(f"{url}/CFHT/properties")[0] == 200
