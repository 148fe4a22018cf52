"""From the sky viewer to the image viewer: a click on a HiPS's page (Aladin Lite in headless chromium) lists the
coadds there, and the Python line the page gives opens the cutout in jdaviz (Imviz), headless.

Synthetic LSST-like patches (IMAGE / MASK / VARIANCE, a truth catalog of stars) made by `hipsgen synth`, tiled by
`hipsgen tiles` (its index.html), served by hipsserve with the coadds as its coadd root.
Oracles nobody here wrote: astropy (each coadd's footprint from its own WCS; the FITS the links give), jdaviz (loads
the cutout URL itself and hands back its data), photutils (aperture photometry of the bright, isolated stars in what
jdaviz loaded, against the truth fluxes written when the stars were drawn).
"""

import json
import os
import subprocess
import sys
import textwrap
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.io.votable import parse_single_table
from astropy.wcs import WCS

from browser_util import BROWSER_DIR, _node, hipsserve
from conftest import http_get

ALADIN_PATH = "/static/aladin.js"
# Where the page is clicked, as fractions of the sky view (inside one or two patches, away from their borders).
CLICK_AT = "0.40,0.42"


def run(*args, timeout=600, env=None):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=env)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    return r


@pytest.fixture(scope="module")
def site(hipsgen_bin, hipsserve_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("imviz")
    syn, srv = base / "syn", base / "srv"
    # 0.5"/px: about 5,000 stars over the tract, some bright enough for 2% photometry (PSF sigma 0.6 px).
    run(hipsgen_bin, "synth", "--out", syn, "--bands", "g", "--patches", 4, "--patch-size", 1024,
        "--pixel-scale", 0.5)
    run(hipsgen_bin, "tiles", "--input", f"{syn}/g/*.fits", "--out", srv / "g", "--band", "g", "--tile-width", 256,
        "--aladin-url", ALADIN_PATH)
    cfg = base / "hipsserve.toml"
    cfg.write_text(f"""listen = "127.0.0.1:0"
roots = ["{srv}"]

[on_demand]
coadd_roots = ["{syn}", "{syn.resolve()}"]
""")
    did = next(ln.split("=", 1)[1].strip() for ln in (srv / "g" / "properties").read_text().splitlines()
               if ln.startswith("creator_did"))
    coadds = {f"{did}?{f.relative_to(syn).as_posix()}": f for f in sorted((syn / "g").glob("*.fits"))}
    with hipsserve(hipsserve_bin, "--config", str(cfg), "--no-access-log") as url:
        yield url, coadds, syn, base


def click(url: str) -> dict:
    r = subprocess.run([_node(), str(BROWSER_DIR / "click.mjs"), "--page", f"{url}/g/index.html", "--at", CLICK_AT,
                        "--aladin-path", ALADIN_PATH], capture_output=True, text=True, timeout=180)
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert r.returncode == 0 and report["state"] == "done", report
    return report


def covering(coadds: dict, ra: float, dec: float, margin_arcsec: float = 0.0) -> set:
    """The coadds whose footprint (astropy, from the file's own WCS) contains (ra, dec) shifted by +-margin."""
    out = set()
    for ident, f in coadds.items():
        w = WCS(fits.getheader(f, "IMAGE"))
        ny, nx = w.array_shape
        x, y = w.world_to_pixel(SkyCoord(ra, dec, unit="deg"))
        m = margin_arcsec / (abs(w.proj_plane_pixel_scales()[0].to_value("deg")) * 3600)
        if -0.5 + m <= x <= nx - 0.5 - m and -0.5 + m <= y <= ny - 0.5 - m:
            out.add(ident)
    return out


def test_a_click_lists_the_coadds_there_with_their_links(site):
    url, coadds, _, _ = site
    report = click(url)
    ra, dec = report["ra"], report["dec"]
    # The clicked point is not within 3" of a patch border, so the expected set does not depend on rounding.
    inner, outer = covering(coadds, ra, dec, 3.0), covering(coadds, ra, dec, -3.0)
    assert inner == outer and inner, (ra, dec, inner, outer)
    entries = {e["id"]: e for e in report["entries"]}
    assert set(entries) == inner, (ra, dec)
    for ident, e in entries.items():
        source = coadds[ident]
        assert e["name"] == source.name
        # The coadd link gives the coadd's pixels (MaskedImage: IMAGE, MASK, VARIANCE).
        status, body = http_get(e["coadd"])
        assert status == 200, body[:300]
        with fits.open(BytesIO(body)) as got, fits.open(source) as want:
            for ext in ("IMAGE", "MASK", "VARIANCE"):
                np.testing.assert_array_equal(got[ext].data, want[ext].data, err_msg=ext)
        # The DataLink document names the coadd itself (#this) and a cutout service.
        status, body = http_get(e["links"])
        assert status == 200
        t = parse_single_table(BytesIO(body)).to_table()
        assert "#this" in list(t["semantics"]) and ident in set(t["ID"])
        # The Python line opens the cutout of the field in jdaviz.
        assert e["snippet"].startswith("import jdaviz; app = jdaviz.new_app(); app.load(")
        assert json.dumps(e["cutout"]) in e["snippet"] and e["snippet"].endswith("; app.show()")


IMVIZ = textwrap.dedent("""
    import sys, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    snippet, out = sys.argv[1], sys.argv[2]
    # The page's line, run as a notebook cell would run it; `show()` needs a notebook, so headless it is left out.
    assert snippet.endswith("; app.show()")
    scope = {}
    exec(snippet[: -len("; app.show()")], scope)
    app = scope["app"]
    label = app.data_labels[0]
    data = app.get_data(label)
    np.save(out + ".npy", np.asarray(data.data))
    with open(out + ".hdr", "w") as f:
        f.write(data.wcs.to_header().tostring())
    print(label)
""")


def test_imviz_opens_the_cutout_and_photometry_of_its_bright_stars_matches_the_truth(site, tmp_path):
    from photutils.aperture import ApertureStats, CircularAnnulus, CircularAperture, aperture_photometry

    url, _, syn, _ = site
    entry = max(click(url)["entries"], key=lambda e: e["name"])  # any listed coadd; the last patch by name
    out = tmp_path / "imviz"
    env = dict(os.environ, MPLBACKEND="Agg")
    r = run(sys.executable, "-c", IMVIZ, entry["snippet"], out, timeout=600, env=env)
    assert r.stdout.strip().splitlines()[-1] == entry["name"].removesuffix(".fits")
    loaded = np.load(f"{out}.npy")
    status, body = http_get(entry["cutout"])
    assert status == 200
    with fits.open(BytesIO(body)) as cut:
        np.testing.assert_array_equal(loaded, cut["IMAGE"].data)
        wcs = WCS(cut["IMAGE"].header)
    # jdaviz's WCS puts the pixels where the cutout's own header does (to 1e-6 arcsec over the image).
    theirs = WCS(fits.Header.fromstring(Path(f"{out}.hdr").read_text()))
    gx, gy = np.meshgrid(np.linspace(0, loaded.shape[1] - 1, 7), np.linspace(0, loaded.shape[0] - 1, 7))
    a, b = theirs.pixel_to_world(gx, gy), wcs.pixel_to_world(gx, gy)
    assert np.max(a.separation(b).arcsec) < 1e-6

    truth = np.genfromtxt(syn / "truth.csv", delimiter=",", names=True)
    x, y = wcs.world_to_pixel(SkyCoord(truth["ra"], truth["dec"], unit="deg"))
    ny, nx = loaded.shape
    inside = (x > 15) & (x < nx - 16) & (y > 15) & (y < ny - 16)
    bright = inside & (truth["flux_g"] > 2.0e4)
    chosen = []
    for i in np.flatnonzero(bright):
        d = np.hypot(x - x[i], y - y[i])
        # Isolated: no other star within 12 px carrying more than 0.2% of this one's flux.
        near = (d > 0) & (d < 12) & (truth["flux_g"] > 0.002 * truth["flux_g"][i])
        if not near.any():
            chosen.append(i)
    assert len(chosen) >= 2, f"only {len(chosen)} bright isolated stars in {entry['name']}"
    pos = np.column_stack([x[chosen], y[chosen]])
    # PSF sigma is 0.59 px: 5 px holds all but 1e-15 of the light; the annulus gives the local background.
    ap, ann = CircularAperture(pos, r=5.0), CircularAnnulus(pos, r_in=7.0, r_out=11.0)
    sky = ApertureStats(loaded, ann).median
    phot = aperture_photometry(loaded, ap)
    flux = np.asarray(phot["aperture_sum"]) - sky * ap.area
    rel = flux / truth["flux_g"][chosen] - 1
    assert np.all(np.abs(rel) < 0.02), list(zip(truth["flux_g"][chosen], rel))


def test_the_hips_list_points_to_the_progenitor_index(site):
    """`/hipslist` gives `hips_progenitor_url` (HiPS 1.0 §4.4.1) for a HiPS with an index, and it resolves."""
    url, coadds, _, _ = site
    status, body = http_get(f"{url}/hipslist")
    assert status == 200
    records = [dict(ln.split("=", 1) for ln in block.splitlines() if "=" in ln and not ln.startswith("#"))
               for block in body.decode().split("\n\n") if block.strip()]
    rec = {k.strip(): v.strip() for k, v in records[0].items()}
    assert rec["hips_progenitor_url"] == f"{url}/g/HpxFinder", rec
    status, body = http_get(rec["hips_progenitor_url"] + "/properties")
    assert status == 200 and b"dataproduct_type" in body
