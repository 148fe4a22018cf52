"""Tile-compressed inputs (issue 13 item 1): `hipsgen tiles` on astropy CompImageHDU copies (RICE_1 with
SUBTRACTIVE_DITHER_1 of the SDSS image; an LSST-style coadd with IMAGE RICE_1 dithered, MASK GZIP_2, VARIANCE RICE_1)
writes exactly the tiles of the same run on astropy's own decompression of those files written as plain images."""

import subprocess
import sys
from pathlib import Path

import numpy as np
from astropy.io import fits

from hips_oracle import hips_tree

WRITER = Path(__file__).resolve().parent.parent / "hips-core" / "tests" / "fits_support" / "write_compressed_coadd.py"


def tiles(hipsgen_bin, inp, out):
    r = subprocess.run([str(hipsgen_bin), "tiles", "--input", str(inp), "--out", str(out), "--tile-width", "64"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return {k: v for k, v in hips_tree(out).items() if k.startswith("Norder")}


def test_rice_dithered_input_gives_the_tiles_of_astropys_decompression(hipsgen_bin, shared_data, tmp_path):
    with fits.open(shared_data / "multiband_sdss" / "reprojected_sdss_g.fits") as f:
        h, d = f[0].header.copy(), f[0].data
    for k in ("SIMPLE", "EXTEND"):
        h.remove(k, ignore_missing=True)
    (tmp_path / "rice").mkdir()
    (tmp_path / "plain").mkdir()
    comp = fits.CompImageHDU(data=d, header=h, compression_type="RICE_1", quantize_method=1, dither_seed=77)
    fits.HDUList([fits.PrimaryHDU(), comp]).writeto(tmp_path / "rice" / "g.fits")
    with fits.open(tmp_path / "rice" / "g.fits") as g:
        dec = g[1].data
        assert not np.array_equal(dec, d), "quantized: astropy's decompression differs from the original"
        fits.PrimaryHDU(data=dec, header=g[1].header).writeto(tmp_path / "plain" / "g.fits")
    want = tiles(hipsgen_bin, tmp_path / "plain" / "g.fits", tmp_path / "out_plain")
    got = tiles(hipsgen_bin, tmp_path / "rice" / "g.fits", tmp_path / "out_rice")
    assert len(want) > 10
    assert got == want


def test_compressed_lsst_coadd_gives_the_tiles_of_astropys_decompression(hipsgen_bin, shared_data, tmp_path):
    subprocess.run([sys.executable, str(WRITER), str(shared_data), str(tmp_path)], check=True, timeout=300)
    with fits.open(tmp_path / "coadd_rice.fits", disable_image_compression=True) as f:
        assert [f[i].header["ZCMPTYPE"] for i in (1, 2, 3)] == ["RICE_1", "GZIP_2", "RICE_1"]
        assert f[1].header["ZQUANTIZ"] == "SUBTRACTIVE_DITHER_2"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "coadd_rice.fits").rename(tmp_path / "a" / "coadd.fits")
    (tmp_path / "coadd_plain.fits").rename(tmp_path / "b" / "coadd.fits")
    want = tiles(hipsgen_bin, tmp_path / "b" / "coadd.fits", tmp_path / "out_plain")
    got = tiles(hipsgen_bin, tmp_path / "a" / "coadd.fits", tmp_path / "out_rice")
    assert len(want) > 5
    assert got == want
