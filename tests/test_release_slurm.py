"""`hipsgen release submit --engine slurm` on a real single-node Slurm (Debian slurm-wlm + munge, started by the test
without systemd) builds the same release as `hipsgen release run` of the same configuration: the same set of objects,
every FITS tile's data equal (read by astropy), every PNG/JPEG tile byte-identical; the markers say every shard is
done; the release is published; and CDS Hipsgen LINT (Debian aladin) accepts every HiPS of it. A shard task
SIGKILLed (`scancel --signal=KILL --full`) at a random moment (a random count of tiles in storage, seed in the
messages) cancels its band's finalize; submitting the release again runs only that shard, and the finalized manifest
equals that of an uninterrupted `release run` (every object's size and XXH3, but the dated ones).

Inputs: synthetic coadds in three bands (`hipsgen synth`, 4 patches of 256 px at 60"/px, spanning several order-3
subtrees) plus the colour HiPS; 3 shards per band, at most 2 array tasks at once.
"""

import json
import os
import random
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

RELEASE_AND_SLURM = """
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
"""

CONFIG = RELEASE_AND_SLURM + """
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


KILL_CONFIG = RELEASE_AND_SLURM + """
[hips.g]
input = ["{coadds}/g"]
band = "g"
order = 8
tile_width = 128
threads = 1
"""


def squeue(*args) -> list[str]:
    r = subprocess.run(["squeue", "-h", *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def wait_until_gone(job_ids: list[str], logs: Path, timeout: float = 600) -> None:
    """Poll squeue until none of the jobs is pending or running."""
    end = time.monotonic() + timeout
    while squeue("-j", ",".join(job_ids), "-o", "%i"):
        assert time.monotonic() < end, "jobs still queued after 10 min:\n" + "\n".join(
            f"== {p.name}\n{p.read_text()}" for p in sorted(logs.glob("*.out")))
        time.sleep(0.2)


def test_a_shard_sigkilled_under_slurm_then_resubmitted_gives_the_uninterrupted_release(
        tmp_path_factory, hipsgen_bin, slurm):
    d = tmp_path_factory.mktemp("slurm-kill")
    hipsgen(hipsgen_bin, "synth", "-o", str(d / "coadds"), "--patches", "4", "--patch-size", "256",
            "--pixel-scale", "60", "--overlap", "10")
    ref_cfg, cfg = d / "ref.toml", d / "killed.toml"
    ref_cfg.write_text(KILL_CONFIG.format(out=d / "ref", workdir=d / "ref-jobs", coadds=d / "coadds"))
    cfg.write_text(KILL_CONFIG.format(out=d / "killed", workdir=d / "jobs", coadds=d / "coadds"))
    hipsgen(hipsgen_bin, "release", "run", "--no-publish", "--config", str(ref_cfg))

    seed = int.from_bytes(os.urandom(4), "little")
    kill_at = random.Random(seed).randint(30, 400)  # g tiles in storage when a running shard is killed (of ~2,000)
    why = f"seed {seed}, kill at {kill_at} tiles"
    submitted = hipsgen(hipsgen_bin, "release", "submit", "--engine", "slurm", "--no-publish", "--config", str(cfg))
    ids = dict(ln.split() for ln in submitted.splitlines())
    tiles_dir = d / "killed" / "dr1" / "g"
    end = time.monotonic() + 300
    while sum(1 for _ in tiles_dir.glob("Norder*/Dir*/*")) < kill_at:
        assert time.monotonic() < end, f"{why}: not enough tiles in 5 min"
        time.sleep(0.02)
    running = squeue("-j", ids["shards-g"], "-t", "RUNNING", "-o", "%i")
    assert running, f"{why}: no shard task running"
    victim = running[0]
    r = subprocess.run(["scancel", "--signal=KILL", "--full", victim], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    index = int(victim.split("_")[1])
    wait_until_gone(list(ids.values()), d / "jobs")
    # The killed task wrote no marker; its band's finalize and the release finalize were cancelled (afterok).
    assert not (d / "killed" / "dr1" / "_shards" / "g" / f"{index}-of-3").exists(), \
        f"{why}: shard {index} finished before the kill: lower the threshold"
    assert not (d / "killed" / "dr1" / "manifest.json").exists(), why
    # The operator submits the release again: the done shards are skipped, the killed one runs, then finalize.
    again = hipsgen(hipsgen_bin, "release", "submit", "--engine", "slurm", "--no-publish", "--config", str(cfg))
    wait_until_gone([ln.split()[1] for ln in again.splitlines()], d / "jobs")
    logs = "\n".join(f"== {p.name}\n{p.read_text()}" for p in sorted((d / "jobs").glob("*.out")))
    assert (d / "killed" / "dr1" / "manifest.json").exists(), f"{why}: no manifest after resubmitting:\n{logs}"
    status = hipsgen(hipsgen_bin, "release", "status", "--config", str(cfg))
    assert re.search(r"^g\s+3/3 shards \[0, 1, 2\] finalized=true", status, re.M), status

    def manifest(out: Path) -> dict[str, tuple[int, str]]:
        m = json.loads((out / "dr1" / "manifest.json").read_text())
        return {e["key"]: (e["size"], e["xxh3"]) for e in m["objects"]}

    a, b = manifest(d / "ref"), manifest(d / "killed")
    assert a.keys() == b.keys(), (why, sorted(a.keys() ^ b.keys())[:10])
    dated = re.compile(r"(properties|hipslist|index\.html|run\.json)$")
    tiles = 0
    for k in a:
        if not dated.search(k):
            assert a[k] == b[k], f"{why}: {k}"
            tiles += "/Norder" in k
    assert tiles > 1500, tiles
