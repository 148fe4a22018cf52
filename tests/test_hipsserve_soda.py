"""hipsserve's SODA cutouts (`/<hips>/soda/sync?ID=...&POS=...`) of the coadds behind three HiPS made by
`hipsgen tiles`: four synthetic LSST-like patches (IMAGE / MASK / VARIANCE extensions, TAN), the DSS HorseHead image
(int16 primary) and the HSC exposure in LSST layout (float image, int16 mask with BZERO 32768, variance, TAN-SIP).

For every cutout, checked with astropy (and mocpy for polygons) against the original file:
- each plane is the original plane's box exactly: same BITPIX, BZERO, BSCALE, stored values bit for bit;
- the box is where the cutout's WCS says: every cutout pixel maps through its own WCS to the sky position the
  original WCS gives the original pixel (SIP included);
- the box holds every pixel whose centre lies in the region, and extends at most one pixel beyond them;
- every HDU's DATASUM and CHECKSUM verify (astropy `checksum=True`).
Errors: bad parameters give 400 UsageError, a coadd that is not a progenitor of the HiPS where the region lies gives
404 NotFoundError, a box over `max_cutout_pixels` gives 400, a server without `coadd_roots` gives 404.
"""

import subprocess
import urllib.error
import urllib.parse
import urllib.request
import warnings
from io import BytesIO
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from mocpy import MOC

from browser_util import hipsserve
from hips_oracle import synth_hips


def get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("Content-Type", "")


def tiles(hipsgen_bin, inputs: str, out: Path, width: int = 256) -> None:
    r = subprocess.run([str(hipsgen_bin), "tiles", "--input", inputs, "--out", str(out), "--tile-width", str(width)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def built(hipsgen_bin, shared_data, tmp_path_factory):
    base = tmp_path_factory.mktemp("soda")
    synth_hips(hipsgen_bin, base / "srv", 4, 256)  # base/srv/hips from base/srv/syn
    hh = shared_data / "single_band" / "HorseHead.fits"
    hsc = shared_data / "lsst_exposure" / "lsst_afw_HSC-0908120-056-small.fits"
    tiles(hipsgen_bin, str(hh), base / "srv" / "hh")
    tiles(hipsgen_bin, str(hsc), base / "srv" / "hsc")
    roots = sorted({str(base / "srv" / "syn"), str((base / "srv" / "syn").resolve()), str(shared_data),
                    str(shared_data.resolve())})
    COADD_ROOTS[:] = [Path(r) for r in roots]
    cfg = base / "soda.toml"
    cfg.write_text("[on_demand]\ncoadd_roots = [" + ", ".join(f'"{r}"' for r in roots) + "]\n")
    small = base / "small.toml"
    small.write_text(cfg.read_text() + "max_cutout_pixels = 100\n")
    return base, cfg, small


@pytest.fixture(scope="module")
def server(hipsserve_bin, built):
    base, cfg, _ = built
    with hipsserve(hipsserve_bin, "--root", str(base / "srv"), "--listen", "127.0.0.1:0", "--no-access-log",
                   "--config", str(cfg)) as url:
        yield url


COADD_ROOTS: list[Path] = []


def progenitor_at(url: str, hips: str, ra: float, dec: float) -> tuple[str, Path]:
    """The identifier of the first coadd /progenitors names at (ra, dec), and the file it is (found under the coadd
    roots by the identifier's relative part)."""
    import json
    status, body, _ = get(f"{url}/{hips}/progenitors?ra={ra}&dec={dec}")
    assert status == 200, body
    recs = json.loads(body)["progenitors"]
    assert recs, f"no progenitor at {ra} {dec}"
    assert "path" not in recs[0], recs[0]
    coadd_id = recs[0]["id"]
    did, rel = coadd_id.split("?", 1)
    status, props, _ = get(f"{url}/{hips}/properties")
    assert f"creator_did          = {did}\n".encode() in props, (coadd_id, props[:300])
    local = [r / rel for r in COADD_ROOTS if (r / rel).is_file()]
    assert local, (coadd_id, COADD_ROOTS)
    return coadd_id, local[0]


def cutout(url: str, hips: str, coadd: str, **params) -> tuple[int, bytes, str]:
    q = urllib.parse.urlencode({"ID": coadd, **params})
    return get(f"{url}/{hips}/soda/sync?{q}")


def planes(hdul) -> list:
    """The 2-D image HDUs, in file order."""
    return [h for h in hdul if h.is_image and h.header.get("NAXIS", 0) == 2]


def sky_of_pixels(w: WCS, shape) -> SkyCoord:
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    ra, dec = w.all_pix2world(xx.ravel(), yy.ravel(), 0)
    return SkyCoord(ra.reshape(shape) * u.deg, dec.reshape(shape) * u.deg)


def check(body: bytes, original: Path, inside_fn) -> tuple[int, int, int, int]:
    """Check a cutout against the original file; returns its box (x0, y0, width, height)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = fits.open(BytesIO(body), do_not_scale_image_data=True)
        want = fits.open(original, do_not_scale_image_data=True)
        gp, wp = planes(got), planes(want)
        ref = wp[0].data.shape
        wp = [p for p in wp if p.data.shape == ref]
        assert len(gp) == len(wp) and len(gp) >= 1, (len(gp), len(wp))
        gw, ww = WCS(gp[0].header), WCS(wp[0].header)
        h, w = gp[0].data.shape
        # Where the box lies, from the WCS alone: the cutout's corners mapped into the original grid.
        corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1], [w // 2, h // 3]], dtype=float)
        sky = gw.all_pix2world(corners, 0)
        orig = ww.all_world2pix(sky, 0, tolerance=1e-10, maxiter=50)
        shift = orig - corners
        np.testing.assert_allclose(shift, np.round(shift[0])[None, :].repeat(len(corners), 0), atol=1e-5)
        x0, y0 = (int(v) for v in np.round(shift[0]))
        for g, o in zip(gp, wp):
            assert g.header["BITPIX"] == o.header["BITPIX"]
            for key in ("BZERO", "BSCALE", "BLANK"):
                assert g.header.get(key) == o.header.get(key), key
            assert g.data.dtype == o.data.dtype
            assert np.array_equal(g.data, o.data[y0:y0 + h, x0:x0 + w], equal_nan=g.data.dtype.kind == "f")
        # Every pixel whose centre is inside is in the box; the box reaches at most 1 px beyond them.
        inside = inside_fn(sky_of_pixels(ww, ref))
        ys, xs = np.nonzero(inside)
        assert len(xs) > 0
        assert x0 <= xs.min() and xs.max() <= x0 + w - 1 and y0 <= ys.min() and ys.max() <= y0 + h - 1
        assert x0 >= xs.min() - 1 and x0 + w - 1 <= xs.max() + 1, (x0, w, xs.min(), xs.max())
        assert y0 >= ys.min() - 1 and y0 + h - 1 <= ys.max() + 1, (y0, h, ys.min(), ys.max())
        got.close()
        want.close()
    return x0, y0, w, h


def centre_of(path: Path, frac=(0.5, 0.5)) -> tuple[float, float]:
    with fits.open(path) as f, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = planes(f)[0]
        ny, nx = p.data.shape
        ra, dec = WCS(p.header).all_pix2world([[nx * frac[0], ny * frac[1]]], 0)[0]
    return float(ra), float(dec)


def test_circles_on_lsst_like_patches(server, built):
    base = built[0]
    for frac in [(0.5, 0.5), (0.97, 0.1)]:  # well inside, and across the patch's edge
        syn = sorted((base / "srv" / "syn" / "g").glob("*.fits"))[0]
        ra, dec = centre_of(syn, frac)
        coadd, local = progenitor_at(server, "hips", ra, dec)
        status, body, ctype = cutout(server, "hips", coadd, POS=f"CIRCLE {ra} {dec} {15 / 3600}")
        assert status == 200, body[:300]
        assert ctype == "application/fits"
        centre = SkyCoord(ra * u.deg, dec * u.deg)
        x0, y0, w, h = check(body, local, lambda s: s.separation(centre) <= 15 * u.arcsec)
        with fits.open(BytesIO(body)) as f:
            assert [h.name for h in f] == ["PRIMARY", "IMAGE", "MASK", "VARIANCE"]
        if frac == (0.5, 0.5):
            assert 140 <= w <= 160 and 140 <= h <= 160, (w, h)  # 30" at 0.2"/px


def test_polygon_and_circle_parameter(server, built):
    base = built[0]
    syn = sorted((base / "srv" / "syn" / "g").glob("*.fits"))[1]
    ra, dec = centre_of(syn)
    coadd, local = progenitor_at(server, "hips", ra, dec)
    d = 10 / 3600
    poly = [ra - d, dec - d, ra + 2 * d, dec - d / 2, ra + d, dec + d, ra - d / 2, dec + 1.5 * d]
    status, body, _ = cutout(server, "hips", coadd, POLYGON=" ".join(f"{v:.9f}" for v in poly))
    assert status == 200, body[:300]
    moc = MOC.from_polygon(lon=np.array(poly[0::2]) * u.deg, lat=np.array(poly[1::2]) * u.deg, max_depth=23)
    check(body, local, lambda s: moc.contains_lonlat(s.ra, s.dec))
    status, body, _ = cutout(server, "hips", coadd, CIRCLE=f"{ra} {dec} {d}")
    assert status == 200, body[:300]
    centre = SkyCoord(ra * u.deg, dec * u.deg)
    check(body, local, lambda s: s.separation(centre) <= d * u.deg)


def test_range_on_an_int16_dss_image(server, shared_data):
    hh = shared_data / "single_band" / "HorseHead.fits"
    ra, dec = centre_of(hh)
    coadd, local = progenitor_at(server, "hh", ra, dec)
    r1, r2, d1, d2 = ra - 0.05, ra + 0.08, dec - 0.04, dec + 0.03
    status, body, _ = cutout(server, "hh", coadd, POS=f"RANGE {r1} {r2} {d1} {d2}")
    assert status == 200, body[:300]
    check(body, local,
          lambda s: (s.ra.deg >= r1) & (s.ra.deg <= r2) & (s.dec.deg >= d1) & (s.dec.deg <= d2))
    with fits.open(BytesIO(body), do_not_scale_image_data=True) as f:
        assert f[0].header["BITPIX"] == 16 and len(f) == 1


def test_lsst_exposure_with_sip_and_unsigned_mask(server, shared_data):
    hsc = shared_data / "lsst_exposure" / "lsst_afw_HSC-0908120-056-small.fits"
    ra, dec = centre_of(hsc, (0.3, 0.6))
    coadd, local = progenitor_at(server, "hsc", ra, dec)
    centre = SkyCoord(ra * u.deg, dec * u.deg)
    status, body, _ = cutout(server, "hsc", coadd, POS=f"CIRCLE {ra} {dec} {8 / 3600}")
    assert status == 200, body[:300]
    check(body, local, lambda s: s.separation(centre) <= 8 * u.arcsec)
    with fits.open(BytesIO(body)) as f:
        assert len(f) == 4 and f[2].header["BZERO"] == 32768 and f[2].data.dtype == np.uint16
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a DATASUM or CHECKSUM that does not verify is a warning in astropy
        with fits.open(BytesIO(body), checksum=True) as f:
            assert all(h.header.get("CHECKSUM") and h.header.get("DATASUM") for h in f)
            for h in f:
                _ = h.data
    # A region holding the whole exposure gives all of it.
    status, body, _ = cutout(server, "hsc", coadd, POS=f"CIRCLE {ra} {dec} 0.1")
    assert status == 200
    assert check(body, local, lambda s: s.separation(centre) <= 0.1 * u.deg) == (0, 0, 200, 200)


def test_errors_name_the_fault(server, hipsserve_bin, built, shared_data):
    base, _, small = built
    hh = shared_data / "single_band" / "HorseHead.fits"
    ra, dec = centre_of(hh)
    coadd, local = progenitor_at(server, "hh", ra, dec)
    for params, status, word in [
        ({"POS": f"BOX {ra} {dec} 1 1"}, 400, "UsageError"),
        ({"POS": f"CIRCLE {ra} {dec} 0.01", "CIRCLE": f"{ra} {dec} 0.01"}, 400, "MultiValuedParamNotSupported"),
        ({"POS": f"CIRCLE {ra} {dec} 0.01", "POL": "I"}, 400, "UsageError"),
        ({"POS": f"CIRCLE {ra} {dec} 30"}, 400, "UsageError"),  # too many index tiles
        ({"POS": f"CIRCLE {ra + 40} {dec} 0.01"}, 404, "NotFoundError"),  # the coadd is not there
    ]:
        got, body, ctype = cutout(server, "hh", coadd, **params)
        assert got == status and body.decode().startswith(word + ":"), (params, got, body)
        assert ctype.startswith("text/plain")
    got, body, _ = cutout(server, "hh", "/etc/passwd", POS=f"CIRCLE {ra} {dec} 0.01")
    assert got == 404 and body.startswith(b"NotFoundError:"), body
    got, body, _ = get(f"{server}/hh/soda/sync")
    assert got == 400 and body.startswith(b"UsageError:")
    with hipsserve(hipsserve_bin, "--root", str(base / "srv"), "--listen", "127.0.0.1:0", "--no-access-log",
                   "--config", str(small)) as url:
        got, body, _ = cutout(url, "hh", coadd, POS=f"CIRCLE {ra} {dec} 0.01")
        assert got == 400 and b"limit of 100" in body, body
    with hipsserve(hipsserve_bin, "--root", str(base / "srv"), "--listen", "127.0.0.1:0", "--no-access-log") as url:
        got, body, _ = cutout(url, "hh", coadd, POS=f"CIRCLE {ra} {dec} 0.01")
        assert got == 404 and b"not enabled" in body, body
