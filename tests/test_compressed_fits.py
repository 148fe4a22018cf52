"""Tile-compressed inputs (issue 13 item 1): `hipsgen tiles` on astropy CompImageHDU copies (RICE_1 with
SUBTRACTIVE_DITHER_1 of the SDSS image; an LSST-style coadd with IMAGE RICE_1 dithered, MASK GZIP_2, VARIANCE RICE_1)
writes exactly the tiles of the same run on astropy's own decompression of those files written as plain images; served
by hipsserve, the compressed coadd's SODA cutouts and on-demand tiles are those of astropy's decompression too."""

import json
import subprocess
import sys
import urllib.parse
from io import BytesIO
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from conftest import http_get
from browser_util import hipsserve, read_properties
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


def test_compressed_coadd_served_soda_and_on_demand_as_astropy_decompresses_it(hipsgen_bin, hipsserve_bin,
                                                                               shared_data, tmp_path):
    """hipsserve on a HiPS of the compressed LSST-style coadd: a SODA cutout holds exactly astropy's decompressed
    pixels of the box (IMAGE, MASK, VARIANCE) with the WCS moved to the box, and on-demand tiles one order deeper
    are bit-identical to `hipsgen tiles --order K+1` run on astropy's decompression written as plain images."""
    subprocess.run([sys.executable, str(WRITER), str(shared_data), str(tmp_path)], check=True, timeout=300)
    comp, plain = tmp_path / "comp", tmp_path / "plain"
    comp.mkdir()
    plain.mkdir()
    (tmp_path / "coadd_rice.fits").rename(comp / "coadd.fits")
    (tmp_path / "coadd_plain.fits").rename(plain / "coadd.fits")
    srv = tmp_path / "srv"
    tiles(hipsgen_bin, comp / "coadd.fits", srv / "c")
    k = int(read_properties(srv / "c")["hips_order"])
    r = subprocess.run([str(hipsgen_bin), "tiles", "--input", str(plain / "coadd.fits"), "--out",
                        str(tmp_path / "deep"), "--tile-width", "64", "--order", str(k + 1)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    cfg = tmp_path / "srv.toml"
    cfg.write_text(f'[defaults]\non_demand_orders = 1\n[on_demand]\ncoadd_roots = ["{comp}"]\n')
    with fits.open(plain / "coadd.fits") as f:
        want = {f[i].header["EXTNAME"]: (f[i].data, f[i].header["CRPIX1"], f[i].header["CRPIX2"]) for i in (1, 2, 3)}
        ra, dec = WCS(f[1].header).all_pix2world([[100.0, 90.0]], 0)[0]
    with hipsserve(hipsserve_bin, "--root", str(srv), "--listen", "127.0.0.1:0", "--no-access-log",
                   "--config", str(cfg)) as url:
        status, body = http_get(f"{url}/c/progenitors?ra={ra}&dec={dec}")
        assert status == 200, body
        coadd_id = json.loads(body)["progenitors"][0]["id"]
        q = urllib.parse.urlencode({"ID": coadd_id, "POS": f"CIRCLE {ra} {dec} {6 / 3600}"})
        status, body = http_get(f"{url}/c/soda/sync?{q}")
        assert status == 200, body[:300]
        with fits.open(BytesIO(body)) as cut:
            names = [h.header.get("EXTNAME") for h in cut[1:]]
            assert names == ["IMAGE", "MASK", "VARIANCE"]
            for h in cut[1:]:
                data, crpix1, crpix2 = want[h.header["EXTNAME"]]
                x0, y0 = round(crpix1 - h.header["CRPIX1"]), round(crpix2 - h.header["CRPIX2"])
                ny, nx = h.data.shape
                assert 10 < nx < 200 and 10 < ny < 200
                np.testing.assert_array_equal(h.data, data[y0:y0 + ny, x0:x0 + nx], err_msg=h.header["EXTNAME"])
        deep = {int(p.stem[4:]): p for p in (tmp_path / "deep" / f"Norder{k + 1}").glob("Dir*/Npix*.fits")}
        assert len(deep) >= 4
        for n, path in sorted(deep.items()):
            status, body = http_get(f"{url}/c/Norder{k + 1}/Dir{n // 10000 * 10000}/Npix{n}.fits")
            assert status == 200, body[:300]
            with fits.open(BytesIO(body)) as got, fits.open(path) as oracle:
                assert got[0].data.tobytes() == oracle[0].data.tobytes(), f"tile {k + 1}/{n}"
