"""Inputs as archives ship them: a gzip-compressed coadd (`.fits.gz`, as a file or in a directory, and a file with no
.gz suffix that starts with the gzip magic) gives exactly the tiles of the uncompressed file; a corrupt gzip stream is
skipped with a clear error naming the file."""

import gzip
import shutil
import subprocess

from hips_oracle import hips_tree


def tiles(hipsgen_bin, inp, out):
    return subprocess.run([str(hipsgen_bin), "tiles", "--input", str(inp), "--out", str(out), "--tile-width", "64"],
                          capture_output=True, text=True, timeout=600)


def test_gzip_inputs_give_the_uncompressed_tiles(hipsgen_bin, shared_data, tmp_path):
    src = shared_data / "single_band" / "HorseHead.fits"
    r = tiles(hipsgen_bin, src, tmp_path / "plain")
    assert r.returncode == 0, r.stderr
    want = {k: v for k, v in hips_tree(tmp_path / "plain").items() if k.startswith("Norder")}
    assert len(want) > 10
    gz_dir = tmp_path / "in"
    gz_dir.mkdir()
    with open(src, "rb") as f, gzip.open(gz_dir / "HorseHead.fits.gz", "wb", compresslevel=6) as g:
        shutil.copyfileobj(f, g)
    disguised = tmp_path / "HorseHead_gzipped.fits"
    shutil.copy(gz_dir / "HorseHead.fits.gz", disguised)
    for name, inp in {"file": gz_dir / "HorseHead.fits.gz", "directory": gz_dir, "magic": disguised}.items():
        r = tiles(hipsgen_bin, inp, tmp_path / name)
        assert r.returncode == 0, (name, r.stderr)
        got = {k: v for k, v in hips_tree(tmp_path / name).items() if k.startswith("Norder")}
        assert got == want, f"{name}: tiles differ from the uncompressed input's"


def test_corrupt_gzip_is_skipped_with_a_clear_error(hipsgen_bin, shared_data, tmp_path):
    data = gzip.compress((shared_data / "single_band" / "HorseHead.fits").read_bytes())
    bad = tmp_path / "in" / "broken.fits.gz"
    bad.parent.mkdir()
    bad.write_bytes(data[: len(data) // 2])
    good = tmp_path / "in" / "HorseHead.fits"
    shutil.copy(shared_data / "single_band" / "HorseHead.fits", good)
    r = tiles(hipsgen_bin, tmp_path / "in", tmp_path / "out")
    assert r.returncode == 3, r.stderr  # finished, one input skipped
    line = next(ln for ln in r.stderr.splitlines() if "skipped:" in ln)
    assert "broken.fits.gz" in line and "gzip" in line, line
