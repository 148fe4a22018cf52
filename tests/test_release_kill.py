"""SIGKILL `hipsgen release run` at several moments (while shards write tiles, and later) and run it again: the
manifest of the finished release (every object with size and XXH3) equals that of an uninterrupted run, but for the
objects that carry dates (properties, hipslist, index.html, the run records, whose other content is compared apart).
The kill moments are found by polling the output for progress, not by sleeping for fixed times.
"""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

CONFIG = """
[release]
id = "dr1"
out = "{out}"
authority = "ivo://example.org/P/test"
public_url = "https://hips.example.org"
title = "T"
shards = 3
[hips.g]
input = ["{coadds}/g"]
band = "g"
order = 6
tile_width = 128
[hips.r]
input = ["{coadds}/r"]
band = "r"
order = 6
tile_width = 128
[hips.i]
input = ["{coadds}/i"]
band = "i"
order = 6
tile_width = 128
[hips.color]
color = {{ red = "i", green = "r", blue = "g" }}
"""

DATED = re.compile(r"(properties|hipslist|index\.html|run\.json)$")


def manifest(out: Path) -> dict[str, tuple[int, str]]:
    m = json.loads((out / "dr1" / "manifest.json").read_text())
    return {e["key"]: (e["size"], e["xxh3"]) for e in m["objects"]}


def undated(path: Path, out: Path) -> str:
    return "\n".join(ln for ln in path.read_text().replace(str(out), "OUT").splitlines() if "_date" not in ln)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, hipsgen_bin):
    d = tmp_path_factory.mktemp("kill")
    r = subprocess.run([str(hipsgen_bin), "synth", "-o", str(d / "coadds"), "--patches", "4", "--patch-size", "256",
                        "--pixel-scale", "60", "--overlap", "10"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    ref = d / "ref"
    cfg = d / "ref.toml"
    cfg.write_text(CONFIG.format(out=ref, coadds=d / "coadds"))
    r = subprocess.run([str(hipsgen_bin), "release", "run", "--no-publish", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return d, ref


def count_tiles(out: Path) -> int:
    return sum(1 for _ in out.glob("dr1/*/Norder*/Dir*/*")) if out.exists() else 0


@pytest.mark.parametrize("kill_after_tiles", [5, 150, 400])
def test_killed_and_rerun_equals_uninterrupted(setup, hipsgen_bin, kill_after_tiles):
    d, ref = setup
    out = d / f"killed-{kill_after_tiles}"
    cfg = d / f"killed-{kill_after_tiles}.toml"
    cfg.write_text(CONFIG.format(out=out, coadds=d / "coadds"))
    cmd = [str(hipsgen_bin), "release", "run", "--no-publish", "--config", str(cfg)]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 300
    while time.monotonic() < end and p.poll() is None and count_tiles(out) < kill_after_tiles:
        time.sleep(0.01)
    killed = p.poll() is None
    if killed:
        os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert killed, f"the run finished before {kill_after_tiles} tiles existed: raise the threshold"
    assert not (out / "dr1" / "manifest.json").exists()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    a, b = manifest(ref), manifest(out)
    assert a.keys() == b.keys(), (sorted(a.keys() - b.keys())[:5], sorted(b.keys() - a.keys())[:5])
    for k in a:
        if DATED.search(k):
            assert undated(ref / "dr1" / k, ref) == undated(out / "dr1" / k, out), k
        else:
            assert a[k] == b[k], k
