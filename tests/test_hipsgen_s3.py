"""`hipsgen tiles` with object storage input and output, against a local S3-compatible server (s3s-fs, a folder
ROOT/bucket is a bucket): the objects written under s3://bucket/hips equal, byte for byte, what the same run writes to
a local directory (properties dates aside), and the tiles equal a run reading the same coadd from a local path
(HpxFinder aside, since it records where each progenitor was read from). `hipsgen lint s3://...` accepts the result.
hipsserve's SODA cutouts of a coadd on the S3 server equal those of the same coadd on local disk.

The coadd is small (one 256-px synthetic patch) because hipsgen reads sub-width image regions one row per range
request: a 1024-px input over S3 takes minutes (hipsgen/tests/region_reads.rs).
"""

import os
import re
import shutil
import subprocess
from io import BytesIO
from pathlib import Path

import pytest

import procs


WIDTH = 256
DATE_KEYS = (b"hips_release_date", b"hips_creation_date")
ACCESS, SECRET = "hipsgen-test", "hipsgen-test-secret"


def s3s_fs_binary() -> Path:
    found = shutil.which("s3s-fs")
    p = Path(found) if found else Path.home() / ".cargo" / "bin" / "s3s-fs"
    if not p.is_file():
        pytest.fail("s3s-fs not found on PATH nor in ~/.cargo/bin: "
                    "cargo install s3s-fs --version 0.14.1 --features binary --locked")
    return p


def tree(d: Path, skip_prefixes: tuple[str, ...] = ()) -> dict[str, bytes]:
    out = {}
    for p in d.rglob("*"):
        rel = p.relative_to(d).as_posix()
        if p.is_file() and not rel.startswith(("hipsgen-state/", *skip_prefixes)):
            data = p.read_bytes()
            if rel == "properties":
                data = b"\n".join(ln for ln in data.split(b"\n") if not ln.startswith(DATE_KEYS))
            out[rel] = data
    return out


def assert_same(a: dict[str, bytes], b: dict[str, bytes], what: str) -> None:
    assert set(a) == set(b), f"{what}: file sets differ: {sorted(set(a) ^ set(b))[:10]}"
    differ = sorted(k for k in a if a[k] != b[k])
    assert not differ, f"{what}: {len(differ)} of {len(a)} files differ, e.g. {differ[:10]}"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """(env for hipsgen, ROOT of the server); the server runs for the module."""
    binary = s3s_fs_binary()
    root = tmp_path_factory.mktemp("s3root")
    (root / "bucket").mkdir()
    # Port 0: s3s-fs binds a free port and logs "server is running at http://ADDR" (info level, on stdout).
    proc = subprocess.Popen([str(binary), "--host", "127.0.0.1", "--port", "0", "--access-key", ACCESS,
                             "--secret-key", SECRET, str(root)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "RUST_LOG": "info", "NO_COLOR": "1"})
    try:
        port = None
        seen = []
        for raw in proc.stdout:
            line = raw.decode(errors="replace")
            seen.append(line)
            m = re.search(r"server is running at http://127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            pytest.fail(f"s3s-fs exited before it said where it listens: {''.join(seen)[-2000:]}")
        # Keep reading its output so it never blocks on a full pipe.
        procs.Tail(proc.stdout)
        env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ALLOW_HTTP": "true",
               "AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": "us-east-1"}
        yield env, root
    finally:
        procs.stop(proc)


def patch_in_bucket(hipsgen_bin, tmp_path: Path, folder: Path) -> Path:
    """One 256-px synthetic g patch under tmp_path/syn, copied to FOLDER/a.fits (a bucket folder of the server);
    returns the local file."""
    syn = tmp_path / "syn"
    subprocess.run([str(hipsgen_bin), "synth", "--out", str(syn), "--bands", "g", "--patches", "1", "--patch-size",
                    "256"], check=True, capture_output=True, timeout=300)
    local_in = syn / "g" / "patch_g_0000.fits"
    folder.mkdir()
    shutil.copyfile(local_in, folder / "a.fits")
    return local_in


def test_s3_input_and_output_equal_local(s3, hipsgen_bin, tmp_path):
    env, root = s3
    local_in = patch_in_bucket(hipsgen_bin, tmp_path, root / "bucket" / "in")
    common = ["--band", "g", "--tile-width", str(WIDTH), "--id", "ivo://test.example/P/s3/g", "--title", "s3 test"]

    def tiles(inp: str, out: str) -> None:
        r = subprocess.run([str(hipsgen_bin), "tiles", "--input", inp, "--out", out, *common], capture_output=True,
                           text=True, timeout=600, env=env)
        assert r.returncode == 0, f"hipsgen tiles --input {inp} --out {out}: exit {r.returncode}\n{r.stderr}"

    tiles("s3://bucket/in/a.fits", "s3://bucket/hips")
    tiles("s3://bucket/in/a.fits", str(tmp_path / "local_out"))
    tiles(str(local_in), str(tmp_path / "local_all"))

    in_bucket = tree(root / "bucket" / "hips")
    assert len([k for k in in_bucket if k.startswith("Norder")]) > 10
    assert "Moc.fits" in in_bucket and "properties" in in_bucket and "Norder3/Allsky.fits" in in_bucket
    assert any(k.startswith("HpxFinder/") for k in in_bucket)
    # Same run, object store vs local directory output: every object identical.
    assert_same(in_bucket, tree(tmp_path / "local_out"), "s3 output vs local output")
    # Input read from S3 vs from a local path: identical except HpxFinder (it records the input location).
    assert_same(tree(root / "bucket" / "hips", ("HpxFinder/",)), tree(tmp_path / "local_all", ("HpxFinder/",)),
                "s3 input vs local input")
    r = subprocess.run([str(hipsgen_bin), "lint", "s3://bucket/hips"], capture_output=True, text=True, timeout=300,
                       env=env)
    assert r.returncode == 0, f"hipsgen lint s3://bucket/hips exit {r.returncode}:\n{r.stdout}\n{r.stderr}"


def test_soda_cutouts_of_coadds_on_s3(s3, hipsgen_bin, hipsserve_bin, tmp_path, monkeypatch):
    """hipsserve's SODA cutouts of a coadd that the progenitor index names by its s3:// URL come from the S3 server
    (ranged GETs through object_store) and equal the cutouts of the same coadd read from a local path (HISTORY and
    checksums aside; the local ones are checked against astropy in test_hipsserve_soda.py)."""
    import json
    import urllib.parse
    import urllib.request
    import warnings

    import numpy as np
    from astropy.io import fits
    from astropy.io.votable import parse_single_table
    from astropy.wcs import WCS

    from browser_util import hipsserve

    env, root = s3
    local_in = patch_in_bucket(hipsgen_bin, tmp_path, root / "bucket" / "soda")
    for inp, out in [("s3://bucket/soda/a.fits", "remote"), (str(local_in), "local")]:
        r = subprocess.run([str(hipsgen_bin), "tiles", "--input", inp, "--out", str(tmp_path / "srv" / out),
                            "--tile-width", str(WIDTH)], capture_output=True, text=True, timeout=600, env=env)
        assert r.returncode == 0, r.stderr
    cfg = tmp_path / "soda.toml"
    cfg.write_text(f'[on_demand]\ncoadd_roots = ["s3://bucket/soda", "{local_in.parent.resolve()}"]\n')
    with fits.open(local_in) as f, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ra, dec = WCS(f["IMAGE"].header).all_pix2world([[100, 140]], 0)[0]
    for k, v in env.items():
        if k.startswith("AWS_"):
            monkeypatch.setenv(k, v)
    with hipsserve(hipsserve_bin, "--root", str(tmp_path / "srv"), "--listen", "127.0.0.1:0", "--no-access-log",
                   "--config", str(cfg)) as url:
        got = {}
        for hips in ("remote", "local"):
            with urllib.request.urlopen(f"{url}/{hips}/progenitors?ra={ra}&dec={dec}", timeout=30) as r:
                ids = [p["id"] for p in json.load(r)["progenitors"]]
            assert len(ids) == 1
            q = urllib.parse.urlencode({"ID": ids[0], "POS": f"CIRCLE {ra} {dec} {8 / 3600}"})
            with urllib.request.urlopen(f"{url}/{hips}/soda/sync?{q}", timeout=60) as r:
                assert r.status == 200 and r.headers["Content-Type"] == "application/fits"
                got[hips] = (ids[0], r.read())
            # DataLink's #this gives the whole coadd with its content_length, from the size hipsgen recorded in the
            # index (no HEAD request per coadd), on S3 as on disk.
            with urllib.request.urlopen(f"{url}/vo/links?{urllib.parse.urlencode({'ID': ids[0]})}", timeout=30) as r:
                links = parse_single_table(BytesIO(r.read())).to_table()
            this = [row for row in links if row["semantics"] == "#this"]
            assert len(this) == 1
            with urllib.request.urlopen(this[0]["access_url"], timeout=60) as r:
                whole = r.read()
            assert whole == local_in.read_bytes() and int(this[0]["content_length"]) == len(whole), hips
    # coadds are named by the HiPS's creator_did and their path under the coadd root, never by a server location
    assert got["remote"][0].startswith("ivo://") and got["remote"][0].endswith("?a.fits"), got["remote"][0]
    assert "s3://" not in got["remote"][0] and str(tmp_path) not in got["local"][0]
    skip = {"HISTORY", "CHECKSUM", "DATASUM"}
    with fits.open(BytesIO(got["remote"][1])) as a, fits.open(BytesIO(got["local"][1])) as b:
        assert [h.name for h in a] == [h.name for h in b] == ["PRIMARY", "IMAGE", "MASK", "VARIANCE"]
        for ha, hb in zip(a, b):
            assert [(c.keyword, c.value) for c in ha.header.cards if c.keyword not in skip] == \
                [(c.keyword, c.value) for c in hb.header.cards if c.keyword not in skip]
            if ha.data is not None:
                assert ha.data.shape[0] > 50 and np.array_equal(ha.data, hb.data, equal_nan=True)
