"""`hipsgen tiles --resume` after a SIGKILL, and sharded runs, give byte-for-byte the HiPS of a clean run.

Synthetic coadds (8 patches of 1024 px) placed on the corner of four order-3 tiles (HEALPix order 3, pixel 425, north
vertex), so there are several order-3 subtrees to checkpoint and shard. Every file of the result is compared (tiles of
every order, Moc.fits, Norder3/Allsky.fits, HpxFinder, index.html, properties) except hipsgen's own work directory
hipsgen-state/ and the dates in properties: hips_release_date (the brief), and hips_creation_date, which a resumed
run takes from its first, interrupted start (hipsgen-state/run.json) and may so differ from the clean run's minute.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from hips_oracle import hips_tree

WIDTH = 256
TRACT_RA, TRACT_DEC = 151.875, 4.78  # north vertex of order-3 pixel 425: four order-3 tiles meet there


def assert_same_hips(got: Path, want: Path) -> None:
    a, b = hips_tree(got), hips_tree(want)
    assert set(a) == set(b), (f"file sets differ: only in {got.name}: {sorted(set(a) - set(b))[:10]}, "
                              f"only in {want.name}: {sorted(set(b) - set(a))[:10]}")
    differ = sorted(k for k in a if a[k] != b[k])
    assert not differ, f"{len(differ)} of {len(a)} files differ, e.g. {differ[:10]}"
    assert any(k.startswith("HpxFinder/") for k in a) and "Moc.fits" in a and "Norder3/Allsky.fits" in a


@pytest.fixture(scope="module")
def setup(tmp_path_factory, hipsgen_bin):
    base = tmp_path_factory.mktemp("resume")
    syn = base / "syn"
    subprocess.run([str(hipsgen_bin), "synth", "--out", str(syn), "--bands", "g", "--patches", "8", "--patch-size",
                    "1024", "--ra", str(TRACT_RA), "--dec", str(TRACT_DEC)], check=True, capture_output=True,
                   timeout=300)
    common = ["tiles", "--input", str(syn / "g" / "*.fits"), "--band", "g", "--tile-width", str(WIDTH),
              "--id", "ivo://test.example/P/resume/g", "--title", "resume test"]
    clean = base / "clean"
    r = subprocess.run([str(hipsgen_bin), *common, "--out", str(clean)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert len(list((clean / "hipsgen-state" / "Norder3").glob("*"))) >= 3, "expected several order-3 subtrees"
    return base, common, clean


def count_deepest(out: Path) -> int:
    return sum(1 for _ in out.glob("Norder12/Dir*/Npix*.fits")) if out.is_dir() else 0


def test_resume_after_sigkill_equals_clean_run(setup, hipsgen_bin):
    base, common, clean = setup
    n_clean = count_deepest(clean)
    assert n_clean > 100
    out = base / "killed"
    proc = subprocess.Popen([str(hipsgen_bin), *common, "--out", str(out), "--threads", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while count_deepest(out) < n_clean // 4 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the run finished before it could be interrupted"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    at_kill = count_deepest(out)
    assert 0 < at_kill < n_clean, f"{at_kill} deepest tiles at kill time (clean run: {n_clean})"
    assert not (out / "properties").exists() or not (out / "Moc.fits").exists(), "run seems to have completed"
    r = subprocess.run([str(hipsgen_bin), *common, "--out", str(out), "--resume"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, f"--resume exited {r.returncode}:\n{r.stderr}"
    print(f"killed with {at_kill}/{n_clean} deepest tiles written; resume: {r.stderr.strip().splitlines()[-1:]}")
    assert_same_hips(out, clean)


def test_sharded_runs_then_resume_equal_clean_run(setup, hipsgen_bin):
    base, common, clean = setup
    out = base / "sharded"
    for shard in ("0/2", "1/2"):
        r = subprocess.run([str(hipsgen_bin), *common, "--out", str(out), "--shard", shard], capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, f"--shard {shard} exited {r.returncode}:\n{r.stderr}"
        assert count_deepest(out) > 0
    r = subprocess.run([str(hipsgen_bin), *common, "--out", str(out), "--resume"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, f"final --resume exited {r.returncode}:\n{r.stderr}"
    assert_same_hips(out, clean)
