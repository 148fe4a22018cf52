"""Bad inputs do not stop `hipsgen tiles`: with good synthetic coadds plus a truncated FITS, garbage bytes, an image
without WCS keywords, an all-NaN image, an unsupported projection (RA---XYZ) and an unreachable s3:// URL, the run
exits 3, names every bad input on stderr (with the HDU or key where relevant), never panics, and writes the same HiPS
as a run on the good files alone, which `hipsgen lint` accepts.
"""

import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hips_oracle import hips_tree
from astropy.io import fits

WIDTH = 256
S3_ENV = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "x",
          "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": "us-east-1"}
BAD_URL = "s3://nonexistent-bucket-xyz/a.fits"


def wcs_cards(good: Path) -> fits.Header:
    h = fits.getheader(good, 1)
    out = fits.Header()
    for k in ("CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CD1_1", "CD1_2", "CD2_1", "CD2_2"):
        out[k] = h[k]
    return out


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, hipsgen_bin):
    base = tmp_path_factory.mktemp("bad_inputs")
    syn = base / "syn"
    subprocess.run([str(hipsgen_bin), "synth", "--out", str(syn), "--bands", "g", "--patches", "2",
                    "--patch-size", "512"], check=True, capture_output=True, timeout=300)
    d = base / "in"
    d.mkdir()
    good = []
    for p in sorted((syn / "g").glob("*.fits")):
        (d / p.name).write_bytes(p.read_bytes())
        good.append(d / p.name)
    raw = good[0].read_bytes()
    with fits.open(good[0]) as hl:
        image_data_start = hl[1]._data_offset
    bad = {}
    # Cut in the middle of the IMAGE data (HDU 1).
    bad["truncated"] = d / "truncated.fits"
    bad["truncated"].write_bytes(raw[:image_data_start + 100_000])
    bad["garbage"] = d / "garbage.fits"
    bad["garbage"].write_bytes(np.random.default_rng(7).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    bad["nowcs"] = d / "nowcs.fits"
    fits.PrimaryHDU(np.ones((100, 100), np.float32)).writeto(bad["nowcs"])
    hdr = wcs_cards(good[0])
    bad["allnan"] = d / "allnan.fits"
    fits.PrimaryHDU(np.full((200, 200), np.nan, np.float32), header=hdr).writeto(bad["allnan"])
    hdr2 = hdr.copy()
    hdr2["CTYPE1"], hdr2["CTYPE2"] = "RA---XYZ", "DEC--XYZ"
    bad["badproj"] = d / "badproj.fits"
    fits.PrimaryHDU(np.ones((200, 200), np.float32), header=hdr2).writeto(bad["badproj"])
    return base, d, good, bad


def run_tiles(bin_: Path, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, **S3_ENV}
    return subprocess.run([str(bin_), "tiles", *args], capture_output=True, text=True, timeout=600, env=env)


def line_naming(stderr: str, name: str) -> str:
    lines = [ln for ln in stderr.splitlines() if name in ln]
    assert lines, f"stderr does not name {name}:\n{stderr}"
    return "\n".join(lines)


@pytest.fixture(scope="module")
def runs(inputs, hipsgen_bin):
    """(run with the bad inputs, its output dir, output dir of a run on the good files alone)."""
    base, d, good, bad = inputs
    common = ["--band", "g", "--tile-width", str(WIDTH), "--id", "ivo://test.example/P/bad/g", "--title", "bad"]
    out = base / "hips"
    r = run_tiles(hipsgen_bin, ["--input", str(d), BAD_URL, "--out", str(out), *common])
    ref = base / "ref"
    r2 = run_tiles(hipsgen_bin, ["--input", *map(str, good), "--out", str(ref), *common])
    assert r2.returncode == 0, r2.stderr
    return r, out, ref


def test_bad_inputs_are_skipped_and_named(inputs, runs, hipsgen_bin):
    base, d, good, bad = inputs
    r, out, ref = runs
    assert "panicked" not in r.stderr, r.stderr
    assert r.returncode == 3, f"exit {r.returncode}, expected 3:\n{r.stderr}"
    err = r.stderr
    assert re.search(r"HDU 1", line_naming(err, bad["truncated"].name)), err
    line_naming(err, bad["garbage"].name)
    assert "CTYPE" in line_naming(err, bad["nowcs"].name), err
    line_naming(err, bad["allnan"].name)
    assert "XYZ" in line_naming(err, bad["badproj"].name), err
    line_naming(err, BAD_URL)
    for g in good:
        assert not any(g.name in ln and "skip" in ln.lower() for ln in err.splitlines()), err
    assert re.search(r"\b2 input\(s\) used, 6 skipped", err), err
    # The HiPS of the good ones: every tile, Moc.fits, Allsky and HpxFinder as in a run on the good files alone.
    a, b = hips_tree(out), hips_tree(ref)
    assert set(a) == set(b), f"file sets differ: {sorted(set(a) ^ set(b))[:10]}"
    data_files = [k for k in a if k not in ("properties", "index.html")]
    assert any(k.startswith("HpxFinder/") for k in data_files) and "Moc.fits" in a and "Norder3/Allsky.fits" in a
    differ = sorted(k for k in data_files if a[k] != b[k])
    assert not differ, f"{len(differ)} files differ from the good-only run, e.g. {differ[:10]}"
    lint = subprocess.run([str(hipsgen_bin), "lint", str(out)], capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_skipped_inputs_do_not_count_in_properties(runs):
    """properties and index.html describe the inputs used: the all-NaN image, reported as skipped, must not be
    counted in obs_description / prov_progenitor nor widen hips_initial_ra/dec/fov."""
    r, out, ref = runs
    a, b = hips_tree(out), hips_tree(ref)
    for name in ("properties", "index.html"):
        got = a[name].decode().splitlines()
        want = b[name].decode().splitlines()
        diff = [f"- {w}\n+ {g}" for g, w in zip(got, want) if g != w]
        assert got == want, f"{name} differs from the good-only run:\n" + "\n".join(diff)


@pytest.mark.parametrize("where", ["image_padding", "mask_header"])
def test_file_cut_after_image_is_reported(where, inputs, hipsgen_bin):
    """A coadd cut short after its IMAGE data: 100 bytes into the 2880-byte padding that ends the IMAGE HDU, or 100
    bytes into the MASK header that follows. The MASK and VARIANCE HDUs are gone: hipsgen must report the file as
    truncated rather than use the IMAGE alone (which silently drops the NO_DATA mask and the variance weights)."""
    base, d, good, bad = inputs
    with fits.open(good[0]) as hl:
        data_start = hl[1]._data_offset
        raw_end = data_start + hl[1].header["NAXIS1"] * hl[1].header["NAXIS2"] * abs(hl[1].header["BITPIX"]) // 8
        padded_end = data_start + hl[1]._data_size  # astropy's data size includes the padding
        assert padded_end - raw_end > 100 and hl[2]._header_offset == padded_end
    cut_at = raw_end + 100 if where == "image_padding" else padded_end + 100
    cut_dir = base / f"cut_{where}"
    cut_dir.mkdir()
    cut = cut_dir / f"cut_in_{where}.fits"
    cut.write_bytes(good[0].read_bytes()[:cut_at])
    r = run_tiles(hipsgen_bin, ["--input", str(cut), str(good[1]), "--out", str(base / f"cut_hips_{where}"),
                                "--band", "g", "--tile-width", str(WIDTH)])
    assert "panicked" not in r.stderr, r.stderr
    assert r.returncode == 3, (f"exit {r.returncode}: a FITS file cut in the {where} was used without its "
                               f"MASK/VARIANCE HDUs instead of being reported:\n{r.stderr}")
    assert "truncated" in line_naming(r.stderr, cut.name).lower()
