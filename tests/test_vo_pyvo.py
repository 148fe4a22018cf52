"""hipsserve's IVOA services under /vo/ (SIA 2.0, DataLink 1.1, SODA 1.0 sync, VOSI) driven by clients nobody here
wrote: pyvo (discovery through /vo/capabilities, search, getdatalink, iter_datalinks, processed, SodaQuery) and STILTS
(votlint on every kind of VOTable the server produces, datalinklint on /vo/links).

Three HiPS made by `hipsgen tiles` from synthetic LSST-like patches (IMAGE / MASK / VARIANCE): `g` and `r` (the same
4 patches in two bands) and `sec` (2 patches in band i elsewhere, restricted to one token user).
Oracles: the coadds' footprints are computed with astropy from each coadd's own header (`WCS.calc_footprint`) and
tested against the region with mocpy at HEALPix order 18 (0.8"); only regions whose answer does not change when
they grow or shrink by 3" are used, so the expected set does not depend on how either side rounds. Cutout pixels are
compared with astropy's reading of the source file, bit for bit, at the box the cutout's own WCS/LTV says.
"""

import json
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
import requests
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.io.votable import parse_single_table
from astropy.utils.data import import_file_to_cache
from astropy.wcs import WCS
from astropy_healpix import HEALPix
from mocpy import MOC
from PIL import Image
from scipy.stats import spearmanr

import pyvo
from pyvo.dal.adhoc import SodaQuery

from browser_util import hipsserve

TOKEN = "vo-carol-token"
DEPTH = 18


def seed_vocabulary():
    """pyvo looks up the DataLink vocabulary on the web: give astropy's cache the copy pyvo ships (offline tests)."""
    local = Path(pyvo.__file__).parent / "dal" / "tests" / "data" / "datalink" / "datalink.desise"
    import_file_to_cache("http://www.ivoa.net/rdf/datalink/core", str(local), remove_original=False)


def get(url: str, token: str | None = None, data: bytes | None = None) -> tuple[int, bytes, dict]:
    req = urllib.request.Request(url, data=data)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read(), {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, e.read(), {k.lower(): v for k, v in e.headers.items()}


def run(*args, timeout=600):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def site(hipsgen_bin, hipsserve_bin, tmp_path_factory):
    seed_vocabulary()
    base = tmp_path_factory.mktemp("vo")
    syn, syn2, srv = base / "syn", base / "syn2", base / "srv"
    run(hipsgen_bin, "synth", "--out", syn, "--bands", "g,r", "--patches", 4, "--patch-size", 512)
    run(hipsgen_bin, "synth", "--out", syn2, "--bands", "i", "--patches", 2, "--patch-size", 512, "--ra", 150.2,
        "--dec", 2.1, "--seed", 7)
    for name, src, band in [("g", syn / "g", "g"), ("r", syn / "r", "r"), ("sec", syn2 / "i", "i")]:
        run(hipsgen_bin, "tiles", "--input", f"{src}/*.fits", "--out", srv / name, "--band", band,
            "--tile-width", 256)
    tokens = base / "tokens"
    tokens.write_text(f"carol:{TOKEN}\n")
    roots = sorted({str(syn), str(syn.resolve()), str(syn2), str(syn2.resolve())})
    cfg = base / "hipsserve.toml"
    cfg.write_text(f"""listen = "127.0.0.1:0"
roots = ["{srv}"]

[on_demand]
coadd_roots = [{", ".join(f'"{r}"' for r in roots)}]

[auth]
tokens_file = "{tokens}"

[hips.sec]
access = "restricted"
users = ["carol"]
""")
    coadds = {}  # identifier -> (file, hips, band)
    for name, src, band in [("g", syn / "g", "g"), ("r", syn / "r", "r"), ("sec", syn2 / "i", "i")]:
        did = next(ln.split("=", 1)[1].strip() for ln in (srv / name / "properties").read_text().splitlines()
                   if ln.startswith("creator_did"))
        top = syn if name != "sec" else syn2
        for f in sorted(src.glob("*.fits")):
            coadds[f"{did}?{f.relative_to(top).as_posix()}"] = (f, name, band)
    with hipsserve(hipsserve_bin, "--config", str(cfg), "--no-access-log") as url:
        yield url, coadds, base


def footprint_moc(path: Path) -> MOC:
    with fits.open(path) as h:
        w = WCS(h[1].header)
    corners = w.calc_footprint()
    return MOC.from_polygon_skycoord(SkyCoord(corners[:, 0] * u.deg, corners[:, 1] * u.deg), max_depth=DEPTH)


def cone(ra, dec, r_deg) -> MOC:
    return MOC.from_cone(ra * u.deg, dec * u.deg, radius=r_deg * u.deg, max_depth=DEPTH)


def meets(a: MOC, b: MOC) -> bool:
    return not a.intersection(b).empty()


def expected(coadds: dict, region_of, bands: set, hips: set) -> set | None:
    """The identifiers whose astropy footprint meets the region (None when growing or shrinking it by 3" changes
    the answer: too close to call)."""
    out = []
    for margin in (-3 / 3600, 0.0, 3 / 3600):
        reg = region_of(margin)
        out.append({i for i, (f, h, b) in coadds.items() if b in bands and h in hips and meets(footprint_moc(f), reg)})
    return out[1] if out[0] == out[1] == out[2] else None


def test_sia2_finds_exactly_the_coadds_whose_footprint_meets_the_region(site):
    url, coadds, _ = site
    svc = pyvo.dal.SIA2Service(url + "/vo")
    assert svc.query_ep == url + "/vo/sia/query" or svc.query_ep.endswith("/vo/sia/query"), svc.query_ep
    rng = np.random.default_rng(3)
    decided = 0
    for _ in range(25):
        ra, dec = 150.0 + rng.uniform(-0.06, 0.25), 2.0 + rng.uniform(-0.06, 0.15)
        r = rng.uniform(0.001, 0.03)
        want = expected(coadds, lambda m, ra=ra, dec=dec, r=r: cone(ra, dec, r + m), {"g"}, {"g"})
        if want is None:
            continue
        decided += 1
        got = svc.search(pos=(ra * u.deg, dec * u.deg, r * u.deg), band=(450e-9, 460e-9))
        ids = {str(x) for x in got["obs_publisher_did"]}
        assert ids == want, (ra, dec, r, ids, want)
    assert decided >= 15, decided
    # Bands select: the r coadds and not the g ones; -Inf/+Inf bounds; no band: both (not the restricted ones).
    pos = (150.0 * u.deg, 2.0 * u.deg, 0.05 * u.deg)
    want_g = expected(coadds, lambda m: cone(150.0, 2.0, 0.05 + m), {"g"}, {"g"})
    want_r = expected(coadds, lambda m: cone(150.0, 2.0, 0.05 + m), {"r"}, {"r"})
    assert {str(x) for x in svc.search(pos=pos, band=(600e-9, 610e-9))["obs_publisher_did"]} == want_r
    status, body, _ = get(url + "/vo/sia/query?" + urllib.parse.urlencode(
        {"POS": "CIRCLE 150 2 0.05", "BAND": "-Inf 5e-7"}))
    assert status == 200 and body.count(b"<TR>") == len(want_g), body[-500:]
    status, body, _ = get(url + "/vo/sia/query?" + urllib.parse.urlencode({"POS": "CIRCLE 150 2 0.05", "BAND": "7e-7 inf"}))
    assert status == 200 and body.count(b"<TR>") == 0
    both = svc.search(pos=pos)
    assert {str(x) for x in both["obs_publisher_did"]} == want_g | want_r
    # Repeated POS is an OR; a RANGE and a POLYGON.
    r1 = {str(x) for x in svc.search(pos=(150.0 * u.deg, 2.0 * u.deg, 0.001 * u.deg),
                                     band=(450e-9, 460e-9))["obs_publisher_did"]}
    poly = [(150.02, 1.99), (150.025, 1.99), (150.025, 2.0), (150.02, 2.0)]
    want_poly = expected(coadds, lambda m: MOC.from_polygon_skycoord(SkyCoord(
        [p[0] for p in poly] * u.deg, [p[1] for p in poly] * u.deg), max_depth=DEPTH), {"g"}, {"g"})
    q = urllib.parse.urlencode([("POS", "POLYGON " + " ".join(f"{a} {b}" for a, b in poly)),
                                ("POS", "CIRCLE 150 2 0.001"), ("BAND", "450e-9 460e-9")])
    status, body, _ = get(url + "/vo/sia/query?" + q)
    rows = parse_single_table(BytesIO(body)).to_table()
    assert want_poly is not None
    assert {str(x) for x in rows["obs_publisher_did"]} == want_poly | r1, body[-800:]
    rng_want = expected(coadds, lambda m: MOC.from_polygon_skycoord(SkyCoord(
        [150.0, 150.01, 150.01, 150.0] * u.deg, [1.98, 1.98, 1.99, 1.99] * u.deg), max_depth=DEPTH), {"g"}, {"g"})
    got_rng = svc.search(pos=(150.0 * u.deg, 150.01 * u.deg, 1.98 * u.deg, 1.99 * u.deg), band=(450e-9, 460e-9))
    assert {str(x) for x in got_rng["obs_publisher_did"]} == rng_want


def test_sia_columns_descriptors_maxrec_and_errors(site):
    url, coadds, base = site
    svc = pyvo.dal.SIA2Service(url + "/vo")
    res = svc.search(pos=(150.0 * u.deg, 2.0 * u.deg, 0.05 * u.deg), band=(450e-9, 460e-9))
    rec = res[0]
    f, hips, band = coadds[str(rec["obs_publisher_did"])]
    with fits.open(f) as h:
        w = WCS(h[1].header)
        ny, nx = h[1].data.shape
    assert (rec["s_xel1"], rec["s_xel2"]) == (nx, ny)
    assert rec["obs_collection"] == hips and rec["dataproduct_type"] == "image" and rec["calib_level"] == 3
    assert rec["access_format"] == "application/x-votable+xml;content=datalink"
    assert 400e-9 <= rec["em_min"] < rec["em_max"] <= 560e-9
    corners = w.calc_footprint()
    region = str(rec["s_region"]).split()
    assert region[:2] == ["POLYGON", "ICRS"]
    got = np.array(region[2:], float).reshape(-1, 2)
    sep = SkyCoord(got[:, 0] * u.deg, got[:, 1] * u.deg)[:, None].separation(
        SkyCoord(corners[:, 0] * u.deg, corners[:, 1] * u.deg)[None, :])
    assert sep.min(axis=1).max() < 1 * u.arcsec, (got, corners)
    # The descriptors: DataLink, SODA (CIRCLE arraysize 3, POLYGON without xtype) and this.
    status, body, _ = get(url + "/vo/sia/query?POS=CIRCLE+150+2+0.05")
    text = body.decode()
    assert 'name="CIRCLE" datatype="double" arraysize="3"' in text and 'xtype="circle"' in text
    poly = [ln for ln in text.splitlines() if 'name="POLYGON"' in ln][0]
    assert "xtype" not in poly, poly
    assert 'name="this"' in text and "ivo://ivoa.net/std/DataLink#links-1.1" in text
    # MAXREC: overflow flagged after the table; 0: metadata only.
    status, body, _ = get(url + "/vo/sia/query?POS=CIRCLE+150+2+0.05&MAXREC=2")
    assert body.count(b"<TR>") == 2 and b'name="QUERY_STATUS" value="OVERFLOW"' in body
    status, body, _ = get(url + "/vo/sia/query?POS=CIRCLE+150+2+0.05&MAXREC=0")
    assert status == 200 and body.count(b"<TR>") == 0 and b"<FIELD" in body
    # Errors: VOTable with QUERY_STATUS=ERROR and UsageFault.
    for q in ["POS=BOX+1+2+3+4", "BAND=5+4", "MAXREC=x", "RESPONSEFORMAT=text/csv"]:
        status, body, hd = get(url + "/vo/sia/query?" + q)
        assert status == 400 and b'value="ERROR">UsageFault: ' in body, (q, body)
        assert hd["content-type"].startswith("application/x-votable+xml")
    # ID (case-insensitive) and COLLECTION.
    one = str(rec["obs_publisher_did"])
    got = svc.search(publisher_did=one.upper())
    assert [str(x) for x in got["obs_publisher_did"]] == [one]
    got = svc.search(pos=(150.0 * u.deg, 2.0 * u.deg, 0.05 * u.deg), collection="r")
    assert got and all(x == "r" for x in got["obs_collection"])
    # No server path anywhere.
    for q in ["POS=CIRCLE+150+2+1", "ID=" + urllib.parse.quote(one)]:
        assert str(base).encode() not in get(url + "/vo/sia/query?" + q)[1]
    assert str(base).encode() not in get(url + "/vo/links?ID=" + urllib.parse.quote(one))[1]


def properties(u: str) -> dict:
    return {k.strip(): v.strip() for k, v in (ln.split("=", 1) for ln in get(u)[1].decode().splitlines() if "=" in ln)}


def planes(hdul):
    return [h for h in hdul if h.is_image and h.header.get("NAXIS", 0) == 2]


def same_pixels(body: bytes, source: Path, n_planes: int):
    """The cutout's planes are the source's planes at the box its LTV keys say, bit for bit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = fits.open(BytesIO(body), do_not_scale_image_data=True)
        want = fits.open(source, do_not_scale_image_data=True)
        gp, wp = planes(got), planes(want)
        assert len(gp) == n_planes, [h.name for h in got]
        for g, w in zip(gp, wp):
            # LTV = physical - image pixel: the box starts where the two files' LTV differ.
            x0 = int(round(w.header.get("LTV1", 0) - g.header.get("LTV1", 0)))
            y0 = int(round(w.header.get("LTV2", 0) - g.header.get("LTV2", 0)))
            ny, nx = g.data.shape
            assert g.header["BITPIX"] == w.header["BITPIX"]
            np.testing.assert_array_equal(g.data, w.data[y0:y0 + ny, x0:x0 + nx])
        return gp


def test_datalink_from_pyvo_gives_the_coadd_and_its_cutouts(site):
    url, coadds, _ = site
    svc = pyvo.dal.SIA2Service(url + "/vo")
    res = svc.search(pos=(150.0 * u.deg, 2.0 * u.deg, 0.05 * u.deg), band=(450e-9, 460e-9))
    rec = res[0]
    did = str(rec["obs_publisher_did"])
    src = coadds[did][0]
    dl = rec.getdatalink()
    sem = list(dl["semantics"])
    assert sem == ["#this", "#cutout", "#preview", "#derivation"], sem
    this = next(dl.bysemantics("#this"))
    status, body, hd = get(this.access_url)
    assert status == 200 and hd["content-type"] == "application/fits"
    assert body == src.read_bytes(), "#this is the coadd file itself"
    assert int(this.content_length) == len(body)
    # #preview: a PNG of the image plane, every stride-th pixel (row 0 at the bottom), rank-ordered like the source.
    prev = next(dl.bysemantics("#preview"))
    status, png, hd = get(prev.access_url)
    assert status == 200 and hd["content-type"] == "image/png"
    grey = np.asarray(Image.open(BytesIO(png)))
    with fits.open(src) as h:
        data = h[1].data.astype(float)
    step = -(-max(data.shape) // 512)
    sampled = data[::step, ::step][::-1]
    assert grey.shape == sampled.shape and grey.dtype == np.uint8
    lo, hi = np.nanpercentile(sampled, [1, 99])
    inside = np.isfinite(sampled) & (sampled > lo) & (sampled < hi)
    rho = spearmanr(grey[inside], sampled[inside]).statistic
    assert rho > 0.95, rho
    # iter_datalinks POSTs batches of IDs: one DataLink result per record, in any order, each for its own ID.
    seen = set()
    for d in res.iter_datalinks():
        ids = {str(x) for x in d["ID"]}
        assert len(ids) == 1
        seen |= ids
    assert seen == {str(x) for x in res["obs_publisher_did"]}
    # An explicit POST of many IDs: the rows of one ID consecutive, unknown IDs a NotFoundFault row.
    ids = [str(x) for x in res["obs_publisher_did"]] + ["ivo://nowhere/x?y.fits"]
    status, body, hd = get(url + "/vo/links", data=urllib.parse.urlencode([("ID", i) for i in ids]).encode())
    assert status == 200 and hd["content-type"] == "application/x-votable+xml;content=datalink", body[:300]
    t = parse_single_table(BytesIO(body)).to_table()
    order = [str(x) for x in t["ID"]]
    assert [i for k, i in enumerate(order) if k == 0 or order[k - 1] != i] == ids
    assert str(t["error_message"][-1]).startswith("NotFoundFault: ")
    # rec.processed (SODA descriptor in the SIA answer) and SodaQuery give the source's pixels.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stream = rec.processed(circle=(float(rec["s_ra"]) * u.deg, float(rec["s_dec"]) * u.deg, 0.003 * u.deg))
    same_pixels(stream.read(), src, 3)
    q = SodaQuery(url + "/vo/soda/sync", circle=(float(rec["s_ra"]) * u.deg, float(rec["s_dec"]) * u.deg,
                                                 0.002 * u.deg))
    q["ID"] = did
    q["CUTOUTDETAIL"] = "Image"
    image_only = q.execute_stream().read()
    same_pixels(image_only, src, 1)
    q = SodaQuery(url + "/vo/soda/sync", polygon=[rec["s_ra"] - 0.002, rec["s_dec"] - 0.002, rec["s_ra"] + 0.002,
                                                  rec["s_dec"] - 0.002, rec["s_ra"] + 0.002, rec["s_dec"] + 0.002,
                                                  rec["s_ra"] - 0.002, rec["s_dec"] + 0.002] * u.deg)
    q["ID"] = did
    same_pixels(q.execute_stream().read(), src, 3)
    # The DataLink #cutout descriptor (ID fixed) works through pyvo as well.
    cut = next(dl.bysemantics("#cutout"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = cut.processed(circle=(float(rec["s_ra"]) * u.deg, float(rec["s_dec"]) * u.deg, 0.002 * u.deg))
    same_pixels(s.read(), src, 3)


def test_soda_sync_codes_and_alias(site):
    url, coadds, _ = site
    did = next(i for i, (_, h, _) in coadds.items() if h == "g")
    src = coadds[did][0]
    with fits.open(src) as h:
        ra, dec = WCS(h[1].header).calc_footprint().mean(axis=0)
    base = {"ID": did}
    s = lambda **p: get(url + "/vo/soda/sync?" + urllib.parse.urlencode({**base, **p}))
    assert s(CIRCLE=f"{ra + 30} {dec} 0.01")[0] == 204, "a region that misses the coadd"
    assert s(CIRCLE=f"{ra} {dec} 0.001", BAND="600e-9 700e-9")[0] == 204, "a band that excludes it"
    status, body, _ = s(CUTOUTDETAIL="Image")
    assert status == 200
    with fits.open(src) as h:
        assert same_pixels(body, src, 1)[0].data.shape == h[1].data.shape, "no region, Image: the whole image plane"
    status, body, _ = s(CIRCLE=f"{ra} {dec} 0.001", BAND="400e-9 500e-9", TIME="0 +Inf")
    assert status == 200
    same_pixels(body, src, 3)
    status, body, _ = get(url + "/vo/soda/sync?" + urllib.parse.urlencode(
        [("ID", did), ("CIRCLE", f"{ra} {dec} 0.001"), ("POLYGON", "1 1 2 1 2 2")]))
    assert status == 400 and body.startswith(b"MultiValuedParamNotSupported: "), body
    status, body, _ = s(CIRCLE=f"{ra} {dec} 0.001", CUTOUTDETAIL="Mask")
    assert status == 400 and body.startswith(b"UsageError: ") and b"CUTOUTDETAIL" in body
    assert s(CIRCLE=f"{ra} {dec} 0.001", ID="ivo://nowhere/P?a.fits")[0] == 404
    # POST answers as GET; the per-HiPS alias gives the same bytes.
    status, posted, _ = get(url + "/vo/soda/sync", data=urllib.parse.urlencode({**base, "POS": f"CIRCLE {ra} {dec} 0.001"}).encode())
    status2, alias, _ = get(url + "/g/soda/sync?" + urllib.parse.urlencode({**base, "POS": f"CIRCLE {ra} {dec} 0.001"}))
    assert status == status2 == 200 and posted == alias
    status, img, _ = get(url + "/g/soda/sync?" + urllib.parse.urlencode({**base, "POS": f"CIRCLE {ra} {dec} 0.001",
                                                                       "CUTOUTDETAIL": "Image"}))
    same_pixels(img, src, 1)


def test_tile_ids_give_the_coadds_behind_the_tile(site):
    url, coadds, _ = site
    props = properties(url + "/g/properties")
    did = props["creator_did"].strip()
    k = int(props["hips_order"].strip())
    order = k - 2
    npix = int(HEALPix(nside=2 ** order, order="nested").lonlat_to_healpix(150.0 * u.deg, 2.0 * u.deg))
    want = {r["id"] for r in json.loads(get(f"{url}/g/progenitors?order={order}&ipix={npix}")[1])["progenitors"]}
    assert want
    status, body, _ = get(url + "/vo/links?" + urllib.parse.urlencode({"ID": f"{did}?Norder{order}/Npix{npix}"}))
    t = parse_single_table(BytesIO(body)).to_table()
    assert set(t["semantics"]) == {"#progenitor"}
    got = {urllib.parse.parse_qs(urllib.parse.urlparse(str(a)).query)["ID"][0] for a in t["access_url"]}
    assert got == want
    # every coadd there has a footprint meeting the tile (astropy + mocpy)
    tile = MOC.from_healpix_cells(np.array([npix]), np.array([order]), max_depth=order)
    assert all(meets(footprint_moc(coadds[i][0]), tile) for i in got)


def test_restricted_coadds_are_invisible_without_rights(site):
    url, coadds, _ = site
    sec = [i for i, (_, h, _) in coadds.items() if h == "sec"]
    svc = pyvo.dal.SIA2Service(url + "/vo")
    anon = {str(x) for x in svc.search(pos=(150.2 * u.deg, 2.1 * u.deg, 0.2 * u.deg))["obs_publisher_did"]}
    assert anon and not anon & set(sec)
    sess = requests.Session()
    sess.headers["Authorization"] = f"Bearer {TOKEN}"
    carol = pyvo.dal.SIA2Service(url + "/vo", session=sess)
    seen = {str(x) for x in carol.search(pos=(150.2 * u.deg, 2.1 * u.deg, 0.2 * u.deg))["obs_publisher_did"]}
    assert set(sec) <= seen
    q = urllib.parse.urlencode({"ID": sec[0]})
    assert get(url + "/vo/links?" + q)[0] == 401
    assert get(url + "/vo/links?" + q, token="wrong")[0] == 401
    assert get(url + "/vo/soda/sync?" + q + "&CIRCLE=150.2+2.1+0.001")[0] == 401
    assert get(url + "/vo/links?" + q, token=TOKEN)[0] == 200
    status, body, _ = get(url + "/vo/soda/sync?" + q, token=TOKEN)
    assert status == 200
    same_pixels(body, coadds[sec[0]][0], 3)


def stilts(*args) -> str:
    r = subprocess.run(["stilts", *args], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    return r.stdout + r.stderr


def test_stilts_votlint_and_datalinklint_find_no_errors(site, tmp_path):
    url, coadds, _ = site
    one = next(iter(coadds))
    props = properties(url + "/g/properties")
    npix = int(HEALPix(nside=256, order="nested").lonlat_to_healpix(150 * u.deg, 2 * u.deg))
    tile_id = f"{props['creator_did'].strip()}?Norder8/Npix{npix}"
    docs = {
        "sia": "/vo/sia/query?POS=CIRCLE+150+2+0.05",
        "sia_overflow": "/vo/sia/query?POS=CIRCLE+150+2+0.05&MAXREC=1",
        "sia_meta": "/vo/sia/query?MAXREC=0",
        "sia_error": "/vo/sia/query?POS=BOX",
        "links": "/vo/links?" + urllib.parse.urlencode([("ID", one), ("ID", "ivo://x/y?z"), ("ID", tile_id)]),
        "links_error": "/vo/links",
    }
    for name, path in docs.items():
        f = tmp_path / f"{name}.xml"
        f.write_bytes(get(url + path)[1])
        out = stilts("votlint", f"votable={f}")
        assert out.strip() == "", (name, out)
    for i in [one, tile_id]:
        out = stilts("datalinklint", "votable=" + url + "/vo/links?" + urllib.parse.urlencode({"ID": i}))
        assert "Errors: 0" in out, out
    caps = get(url + "/vo/capabilities")[1].decode()
    for std in ["SIA#query-2.0", "DataLink#links-1.1", "SODA#sync-1.0", "VOSI#availability"]:
        assert f"ivo://ivoa.net/std/{std}" in caps
    status, body, _ = get(url + "/vo/availability")
    assert status == 200 and b"<vosi:available>true</vosi:available>" in body


def test_posts_are_forms_for_vo_only(site):
    url, coadds, _ = site
    form = urllib.parse.urlencode({"POS": "CIRCLE 150 2 0.05", "BAND": "450e-9 460e-9"}).encode()
    status, posted, _ = get(url + "/vo/sia/query", data=form)
    status2, got, _ = get(url + "/vo/sia/query?" + form.decode())
    assert status == status2 == 200 and posted == got
    # query string and body together are one parameter list (repeated POS = OR)
    status, both, _ = get(url + "/vo/sia/query?POS=CIRCLE+150+2+0.001", data=b"POS=CIRCLE+150.1+2.1+0.001")
    assert status == 200 and both.count(b"<TR>") > 0
    assert get(url + "/g/properties", data=b"a=b")[0] == 405, "POST elsewhere is refused as before"
    status, body, _ = get(url + "/vo/links", data=b"ID=" + b"x" * (2 << 20))
    assert status == 413, (status, body[:200])
