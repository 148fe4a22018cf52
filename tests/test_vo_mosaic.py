"""hipsserve's `GET /vo/mosaic` against reproject (PyPI), an implementation nobody here wrote.

Four synthetic LSST-like coadds (IMAGE / MASK / VARIANCE, MP_* mask planes) in band g overlap near (200, 10) with
different pixel scales and rotations (0.4"/px at 0 and 20 degrees, 0.5"/px, 0.45"/px at -35 degrees), each with its
own offset and variance level, DETECTED and SAT blocks and a NO_DATA strip; `hipsgen tiles` makes a public HiPS of
them. A fifth coadd in band r is a restricted HiPS of its own (one token user).

Oracle: each coadd's image and variance (NO_DATA pixels NaN, as the server blanks them) reprojected with
`reproject_interp(order='bilinear')` onto the mosaic's own WCS (read from the answer with astropy) and combined by
inverse variance; the masks reprojected with nearest neighbour. Tolerances: the median |difference| below 1e-3 of
the data range; coverage (NaN exactly where no input reaches) compared away from a one-pixel border of the oracle's
coverage edges, where the two bilinear implementations treat edge and NO_DATA neighbours differently (reproject gives
NaN when a tap is missing, the tile kernel renormalises over the valid taps).
"""

import subprocess
import urllib.parse

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from io import BytesIO
from reproject import reproject_interp
from scipy.ndimage import binary_dilation, binary_erosion

from browser_util import hipsserve
from conftest import http_get

TOKEN = "mosaic-dave-token"
SAT, DETECTED, NO_DATA = 1 << 1, 1 << 5, 1 << 8
MASK_PLANES = {"BAD": 0, "SAT": 1, "INTRP": 2, "CR": 3, "EDGE": 4, "DETECTED": 5, "NO_DATA": 8}
RA0, DEC0 = 200.0, 10.0
# (band, centre offset in arcsec (east, north), scale arcsec/px, rotation deg, size px, offset, variance)
COADDS = [
    ("g", (-25, -20), 0.40, 0.0, 300, 0.0, 1.0),
    ("g", (30, -15), 0.50, 0.0, 260, 0.3, 2.0),
    ("g", (-10, 30), 0.40, 20.0, 280, -0.2, 0.5),
    ("g", (20, 25), 0.45, -35.0, 240, 0.1, 4.0),
    ("r", (0, 0), 0.40, 10.0, 300, 0.0, 1.0),
]


def coadd_hdus(i, band, off, scale, rot, n, offset, var):
    ra = RA0 + off[0] / 3600 / np.cos(np.radians(DEC0))
    dec = DEC0 + off[1] / 3600
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra, dec]
    w.wcs.crpix = [(n + 1) / 2, (n + 1) / 2]
    c, s = np.cos(np.radians(rot)), np.sin(np.radians(rot))
    d = scale / 3600
    w.wcs.cd = np.array([[-d * c, d * s], [d * s, d * c]])
    hdr = w.to_header()
    hdr["RADESYS"] = "ICRS"
    yy, xx = np.mgrid[0:n, 0:n]
    world = w.pixel_to_world_values(xx, yy)
    # A smooth sky (the same function of the sky position for all coadds) plus each coadd's offset.
    dra, ddec = (world[0] - RA0) * 3600 * np.cos(np.radians(DEC0)), (world[1] - DEC0) * 3600
    sky = 10 + 5 * np.exp(-(dra**2 + ddec**2) / (2 * 30.0**2)) + 0.02 * dra + 0.01 * ddec
    rng = np.random.default_rng(i)
    image = (sky + offset + 0.05 * rng.standard_normal((n, n))).astype(np.float32)
    variance = (var * (1 + 0.2 * np.sin(xx / 37.0) * np.cos(yy / 23.0))).astype(np.float32)
    mask = np.zeros((n, n), np.int32)
    mask[40 + 10 * i:70 + 10 * i, 50:90] |= DETECTED
    mask[150:170, 120 + 5 * i:140 + 5 * i] |= SAT
    mask[:, n - 12 - i:n - 6 - i] |= NO_DATA
    primary = fits.PrimaryHDU()
    primary.header["FILTER"] = band
    primary.header["BAND"] = band
    primary.header["MJD-OBS"] = 60000.0 + i
    out = [primary]
    for name, data in [("IMAGE", image), ("MASK", mask), ("VARIANCE", variance)]:
        h = fits.ImageHDU(data, header=hdr.copy(), name=name)
        if name == "MASK":
            for plane, bit in MASK_PLANES.items():
                h.header[f"MP_{plane}"] = bit
        out.append(h)
    return fits.HDUList(out)


def run(*args, timeout=600):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def site(hipsgen_bin, hipsserve_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("mosaic")
    src, srv = base / "coadds", base / "srv"
    files = {}
    for i, (band, *rest) in enumerate(COADDS):
        folder = src / ("pub" if band == "g" else "sec")
        folder.mkdir(parents=True, exist_ok=True)
        f = folder / f"coadd_{i}.fits"
        coadd_hdus(i, band, *rest).writeto(f)
        files[f.name] = f
    for name, folder, band in [("mos", src / "pub", "g"), ("sec", src / "sec", "r")]:
        run(hipsgen_bin, "tiles", "--input", f"{folder}/*.fits", "--out", srv / name, "--band", band,
            "--tile-width", 256)
    (base / "tokens").write_text(f"dave:{TOKEN}\n")
    roots = sorted({str(src), str(src.resolve())})
    cfg = base / "hipsserve.toml"
    cfg.write_text(f"""listen = "127.0.0.1:0"
roots = ["{srv}"]

[on_demand]
coadd_roots = [{", ".join(f'"{r}"' for r in roots)}]
max_mosaic_pixels = 1000000

[auth]
tokens_file = "{base / 'tokens'}"

[hips.sec]
access = "restricted"
users = ["dave"]
""")
    with hipsserve(hipsserve_bin, "--config", str(cfg), "--no-access-log") as url:
        yield url, files


def mosaic(url, token=None, **params):
    q = urllib.parse.urlencode(params)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return http_get(f"{url}/vo/mosaic?{q}", headers=headers)


def oracle(files, names, wcs, shape):
    """reproject's bilinear image and variance of each coadd on the mosaic's grid, combined by inverse variance;
    the nearest-neighbour masks, and where each coadd reaches."""
    num, den = np.zeros(shape), np.zeros(shape)
    masks, reach = [], []
    for n in names:
        with fits.open(files[n]) as h:
            m = h["MASK"].data
            img = np.where(m & NO_DATA, np.nan, h["IMAGE"].data.astype(float))
            var = np.where(m & NO_DATA, np.nan, h["VARIANCE"].data.astype(float))
            w = WCS(h["IMAGE"].header)
            ri, _ = reproject_interp((img, w), wcs, shape_out=shape, order="bilinear")
            rv, _ = reproject_interp((var, w), wcs, shape_out=shape, order="bilinear")
            rm, _ = reproject_interp((m.astype(float), w), wcs, shape_out=shape, order="nearest-neighbor")
        ok = np.isfinite(ri) & np.isfinite(rv) & (rv > 0)
        num += np.where(ok, ri / np.where(ok, rv, 1), 0)
        den += np.where(ok, 1 / np.where(ok, rv, 1), 0)
        masks.append(np.where(np.isfinite(rm), rm, 0).astype(np.int64))
        reach.append(ok)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den, np.where(den > 0, 1 / np.where(den > 0, den, 1), np.nan), masks, reach


def test_mosaic_equals_reproject_inverse_variance_combination(site):
    url, files = site
    status, body = mosaic(url, POS=f"CIRCLE {RA0} {DEC0} 0.03", BAND="450e-9 460e-9")
    assert status == 200, body[:500]
    with fits.open(BytesIO(body)) as h:
        assert [x.name for x in h] == ["PRIMARY", "IMAGE", "MASK", "VARIANCE"]
        img, msk, var = (h[n].data.astype(float) for n in ("IMAGE", "MASK", "VARIANCE"))
        msk = h["MASK"].data.astype(np.int64)
        hdr, prim = h["IMAGE"].header, h[0].header
        w = WCS(hdr)
    # WCS: TAN, centred on the region, North up and East left, at the finest input scale (0.4").
    assert (hdr["CTYPE1"], hdr["CTYPE2"]) == ("RA---TAN", "DEC--TAN")
    assert abs(hdr["CRVAL1"] - RA0) < 1e-9 and abs(hdr["CRVAL2"] - DEC0) < 1e-9
    assert hdr["CD1_1"] < 0 and hdr["CD2_2"] > 0 and hdr["CD1_2"] == 0 and hdr["CD2_1"] == 0
    assert abs(abs(hdr["CD2_2"]) * 3600 - 0.4) < 1e-6
    ny, nx = img.shape
    c = w.pixel_to_world_values([(nx - 1) / 2, (nx - 1) / 2, (nx - 1) / 2 + 10], [(ny - 1) / 2, (ny - 1) / 2 + 10,
                                                                                  (ny - 1) / 2])
    assert abs(c[0][0] - RA0) < 1e-9 and abs(c[1][0] - DEC0) < 1e-9
    assert c[1][1] > c[1][0] and c[0][2] < c[0][0], "North up, East left"
    assert nx * 0.4 >= 0.06 * 3600 and ny * 0.4 >= 0.06 * 3600, "the box holds the circle"
    # Provenance: the four g coadds by identifier, no server path, inverse-variance weights.
    provs = [prim[k] for k in prim if k.startswith("PROV")]
    assert len(provs) == 4 and prim["NCOMBINE"] == 4 and prim["MOSWEIGH"] == "INVVAR", provs
    assert all(p.startswith("ivo://") and str(files["coadd_0.fits"].parent) not in p for p in provs), provs
    # DataLink answers for those identifiers carry the mosaic service descriptor.
    status, links = http_get(f"{url}/vo/links?" + urllib.parse.urlencode({"ID": provs[0]}))
    assert status == 200 and f'value="{url}/vo/mosaic"'.encode() in links, links[-800:]
    names = sorted(p.rsplit("/", 1)[-1] for p in provs)
    assert names == [f"coadd_{i}.fits" for i in range(4)], provs
    want, want_var, masks, reach = oracle(files, names, w, img.shape)
    covered = np.isfinite(want)
    # Coverage: NaN exactly where no input reaches, away from a one-pixel border of the oracle's coverage edges.
    inner, outer = binary_erosion(covered, iterations=1), binary_dilation(covered, iterations=1)
    assert np.isfinite(img[inner]).all(), (~np.isfinite(img[inner])).sum()
    assert np.isnan(img[~outer]).all(), np.isfinite(img[~outer]).sum()
    assert covered.sum() > 0.5 * img.size and (~covered).sum() > 0.05 * img.size
    both = covered & np.isfinite(img)
    rng = np.nanmax(want) - np.nanmin(want)
    diff = np.abs(img[both] - want[both])
    assert np.median(diff) < 1e-3 * rng, (np.median(diff), rng)
    assert np.percentile(diff[binary_erosion(covered, iterations=2)[both]], 99) < 1e-2 * rng
    vboth = both & np.isfinite(var)
    vdiff = np.abs(var[vboth] - want_var[vboth])
    assert vboth.sum() > 0.9 * both.sum()
    assert np.median(vdiff) < 1e-3 * np.median(want_var[vboth]), (np.median(vdiff), np.median(want_var[vboth]))
    # MASK: every bit any contributing input has there (nearest neighbour), nothing far from where one has it.
    for bit in (SAT, DETECTED):
        have = np.zeros(img.shape, bool)
        for m, ok in zip(masks, reach):
            have |= ok & ((m & bit) != 0)
        assert have.sum() > 50, bit
        sure = binary_erosion(have, iterations=1)
        assert ((msk[sure] & bit) != 0).all(), (bit, ((msk[sure] & bit) == 0).sum())
        assert (((msk & bit) != 0) & ~binary_dilation(have, iterations=2)).sum() == 0, bit
    # NO_DATA where nothing reaches; NaN variance there too.
    nothing = np.isnan(img)
    assert ((msk[nothing] & NO_DATA) != 0).all() and np.isnan(var[nothing]).all()
    assert ((msk[inner] & NO_DATA) == 0).all()


def test_image_only_bad_parameters_and_limits(site):
    url, _ = site
    status, body = mosaic(url, POS=f"CIRCLE {RA0} {DEC0} 0.01", CUTOUTDETAIL="Image", SCALE="1.0")
    assert status == 200, body[:300]
    with fits.open(BytesIO(body)) as h:
        assert [x.name for x in h] == ["PRIMARY", "IMAGE"]
        assert abs(h["IMAGE"].header["CD2_2"] * 3600 - 1.0) < 1e-9
        assert h["IMAGE"].data.shape == (73, 73)
    for params, word in [
        ({"BAND": "450e-9 460e-9"}, "POS"),
        ({"POS": "BOX 1 2 3 4"}, "POS="),
        ({"POS": f"CIRCLE {RA0} {DEC0} 0.01", "SCALE": "-1"}, "SCALE="),
        ({"POS": f"CIRCLE {RA0} {DEC0} 0.01", "CUTOUTDETAIL": "Cube"}, "CUTOUTDETAIL="),
        ({"POS": f"CIRCLE {RA0} {DEC0} 0.01", "BAND": "5 4"}, "BAND="),
        ({"POS": f"CIRCLE {RA0} {DEC0} 0.03", "SCALE": "0.05"}, "max_mosaic_pixels"),
    ]:
        status, body = mosaic(url, **params)
        text = body.decode()
        assert status == 400 and "QUERY_STATUS" in text and "UsageFault" in text and word in text, (params, text)
    # The too-large refusal names the parameters and comes before any pixel is read.
    status, body = mosaic(url, POS=f"CIRCLE {RA0} {DEC0} 0.03", SCALE="0.05")
    assert "POS/SCALE" in body.decode()
    # A region no coadd reaches: 204.
    assert mosaic(url, POS="CIRCLE 20 -30 0.01")[0] == 204
    # Capabilities list the service.
    status, body = http_get(url + "/vo/capabilities")
    assert status == 200 and f"{url}/vo/mosaic".encode() in body


def test_restricted_coadds_are_invisible_without_rights(site):
    url, _ = site
    pos = f"CIRCLE {RA0} {DEC0} 0.01"
    # Band r holds only the restricted coadd: nothing for the anonymous caller, the coadd for its user.
    assert mosaic(url, POS=pos, BAND="600e-9 610e-9")[0] == 204
    assert mosaic(url, token="wrong", POS=pos, BAND="600e-9 610e-9")[0] == 204
    status, body = mosaic(url, token=TOKEN, POS=pos, BAND="600e-9 610e-9")
    assert status == 200, body[:300]
    with fits.open(BytesIO(body)) as h:
        provs = [h[0].header[k] for k in h[0].header if k.startswith("PROV")]
        assert len(provs) == 1 and provs[0].endswith("coadd_4.fits"), provs
        assert np.isfinite(h["IMAGE"].data).mean() > 0.9
    # Without BAND: the anonymous caller gets the g coadds only; the user sees two bands and must choose.
    status, body = mosaic(url, POS=pos)
    assert status == 200
    with fits.open(BytesIO(body)) as h:
        assert h[0].header["NCOMBINE"] == 4 and not any(
            str(h[0].header[k]).endswith("coadd_4.fits") for k in h[0].header if k.startswith("PROV"))
    status, body = mosaic(url, token=TOKEN, POS=pos)
    assert status == 400 and "BAND" in body.decode() and "UsageFault" in body.decode()
