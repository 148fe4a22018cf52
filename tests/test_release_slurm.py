"""`hipsgen release submit --engine slurm` on a real single-node Slurm (Debian slurm-wlm + munge, started by the test
without systemd) builds the same release as `hipsgen release run` of the same configuration: the same set of objects,
every FITS tile's data equal (read by astropy), every PNG/JPEG tile byte-identical; the markers say every shard is
done; the release is published; and CDS Hipsgen LINT (Debian aladin) accepts every HiPS of it.

Inputs: synthetic coadds in three bands (`hipsgen synth`, 4 patches of 256 px at 60"/px, spanning several order-3
subtrees) plus the colour HiPS; 3 shards per band, at most 2 array tasks at once.
"""

import os
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

import slurm_util

ALADIN_JAR = Path("/usr/share/java/aladin.jar")
ANSI = re.compile(r"\x1b\[[0-9;]*m")

CONFIG = """
[release]
id = "dr1"
out = "{out}"
authority = "ivo://example.org/P/test"
public_url = "http://hips.example.org"
title = "Test DR1"
shards = 3

[slurm]
parallel = 2
time = "00:10:00"
workdir = "{workdir}"

[hips.g]
input = ["{coadds}/g"]
band = "g"
order = 5
tile_width = 64
[hips.r]
input = ["{coadds}/r"]
band = "r"
order = 5
tile_width = 64
[hips.i]
input = ["{coadds}/i"]
band = "i"
order = 5
tile_width = 64
[hips.color]
color = {{ red = "i", green = "r", blue = "g" }}
"""


@pytest.fixture(scope="module")
def slurm():
    why = slurm_util.why_not()
    if why:
        pytest.fail(f"Slurm cannot run here: {why}")
    started = slurm_util.ensure_slurm()
    yield
    if started:
        slurm_util.stop_slurm()


def hipsgen(bin_, *args, env=None, timeout=600):
    r = subprocess.run([str(bin_), *args], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, **(env or {})})
    assert r.returncode == 0, f"hipsgen {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def releases(tmp_path_factory, hipsgen_bin, slurm):
    d = tmp_path_factory.mktemp("release")
    hipsgen(hipsgen_bin, "synth", "-o", str(d / "coadds"), "--patches", "4", "--patch-size", "256",
            "--pixel-scale", "60", "--overlap", "10")
    cfg = d / "release.toml"
    cfg.write_text(CONFIG.format(out=d / "run", workdir=d / "slurm", coadds=d / "coadds"))
    dry = hipsgen(hipsgen_bin, "release", "submit", "--dry-run", "--config", str(cfg))
    hipsgen(hipsgen_bin, "release", "run", "--config", str(cfg))
    env = {"HIPSGEN_RELEASE_OUT": str(d / "slurm-out")}
    submitted = hipsgen(hipsgen_bin, "release", "submit", "--engine", "slurm", "--config", str(cfg), env=env)
    # Completion is read from storage (Slurm forgets finished jobs): wait for the published pointer.
    current = d / "slurm-out" / "current"
    end = time.monotonic() + 600
    while time.monotonic() < end and not current.exists():
        time.sleep(0.5)
    logs = "\n".join(f"== {p.name}\n{p.read_text()}" for p in sorted((d / "slurm").glob("*.out")))
    assert current.exists(), f"the Slurm release was not published within 10 min; job logs:\n{logs}"
    status = hipsgen(hipsgen_bin, "release", "status", "--config", str(cfg), env=env)
    return {"run": d / "run", "slurm": d / "slurm-out", "dry": dry, "submitted": submitted, "status": status,
            "logs": logs}


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_submit_writes_arrays_and_dependencies(releases):
    dry = releases["dry"]
    assert dry.count("#SBATCH --array=0-2%2") == 3, dry
    assert "release shard --hips 'g' --index \"$SLURM_ARRAY_TASK_ID\"" in dry
    assert "#SBATCH --time=00:10:00" in dry
    # The jobs run the submitting binary by its absolute path.
    assert re.search(r"^'/[^']+/hipsgen' release ", dry, re.M), dry
    lines = [ln.split() for ln in releases["submitted"].splitlines()]
    names = [n for n, _ in lines]
    assert names == ["shards-g", "finalize-g", "shards-i", "finalize-i", "shards-r", "finalize-r", "finalize-color",
                     "publish"], releases["submitted"]
    assert all(i.isdigit() for _, i in lines)


def test_status_reads_every_marker(releases):
    s = releases["status"]
    for b in "gir":
        assert re.search(rf"^{b}\s+3/3 shards \[0, 1, 2\] finalized=true", s, re.M), s
    assert "current=dr1" in s, s
    for b in "gir":
        for i in range(3):
            assert (releases["slurm"] / "dr1" / "_shards" / b / f"{i}-of-3").is_file()


def test_slurm_release_equals_release_run(releases):
    a, b = releases["run"], releases["slurm"]
    fa, fb = files(a), files(b)
    assert fa == fb, f"only in run: {sorted(fa - fb)[:10]}; only in slurm: {sorted(fb - fa)[:10]}"
    tiles = [f for f in fa if re.search(r"Norder\d+/Dir\d+/Npix\d+\.(fits|png|jpg)$", f)]
    assert len(tiles) > 250, len(tiles)  # 3 bands and the colour HiPS, orders 0-5
    for f in sorted(tiles):
        if f.endswith(".fits"):
            da, db = fits.getdata(a / f), fits.getdata(b / f)
            assert np.array_equal(da, db, equal_nan=True), f
        else:
            assert (a / f).read_bytes() == (b / f).read_bytes(), f
    for f in [f for f in fa if f.endswith("Allsky.fits")]:
        assert np.array_equal(fits.getdata(a / f), fits.getdata(b / f), equal_nan=True), f
    for f in [f for f in fa if f.endswith("Moc.fits")]:
        ua, ub = fits.getdata(a / f, 1), fits.getdata(b / f, 1)
        assert np.array_equal(ua[ua.columns.names[0]], ub[ub.columns.names[0]]), f


@pytest.mark.parametrize("hips", ["g", "r", "i", "color"])
def test_cds_lint_accepts_every_hips(releases, hips):
    if not ALADIN_JAR.is_file():
        pytest.fail(f"{ALADIN_JAR} missing: apt-get install aladin")
    path = releases["slurm"] / "dr1" / hips
    r = subprocess.run(["java", "-cp", str(ALADIN_JAR), "cds.allsky.HipsGen", f"out={path}", "LINT"],
                       capture_output=True, text=True, timeout=300)
    out = ANSI.sub("", r.stdout + r.stderr)
    assert "LINT done" in out, out
    errors = [ln for ln in out.splitlines() if ln.startswith("*ERROR")]
    assert not errors, out
