"""hipsserve's progenitor queries (`/<hips>/progenitors`) on a HiPS made by `hipsgen tiles` from four synthetic
LSST-like coadds (adjacent patches that overlap at their edges), through a real HTTP client:

- for 300 seeded random positions over the patches, the coadds named for `?ra=&dec=` are exactly those whose pixel grid
  contains the position according to astropy's WCS (positions within 2 px of an image edge are skipped, where the
  outline polygon and the pixel grid may legitimately disagree);
- `?order=&ipix=` above the index order returns the union of the index files under that tile, and below it the index
  file of the tile above, each read directly from the HiPS on disk;
- bad queries get 400 naming the parameter, a HiPS without a progenitor index gets 404;
- coadds are named by their identifier `<creator_did>?<path under the coadd root>`, never by their server path, and
  ra/dec are numbers.
"""

import json
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from browser_util import hipsserve, read_properties
from hips_oracle import synth_hips


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture(scope="module")
def served(hipsgen_bin, hipsserve_bin, shared_data, tmp_path_factory):
    base = tmp_path_factory.mktemp("progenitors")
    hips, syn = synth_hips(hipsgen_bin, base, 4, 256)
    coadds = sorted((syn / "g").glob("*.fits"))
    assert len(coadds) == 4
    with hipsserve(hipsserve_bin, "--root", str(base), "--root", str(shared_data / "reference_hips"),
                   "--coadd-root", str(syn), "--listen", "127.0.0.1:0", "--no-access-log") as url:
        yield url, hips, coadds


def id_of(hips: Path, path: str) -> str:
    """The identifier hipsserve gives the coadd an index file records at `path`."""
    syn = hips.parent / "syn"
    return read_properties(hips)["creator_did"] + "?" + Path(path).relative_to(syn.resolve()).as_posix()


def names_in(doc: dict, hips: Path) -> set:
    """The file names of the coadds of a progenitors answer, checking each record names it by identifier only."""
    did = read_properties(hips)["creator_did"]
    for r in doc["progenitors"]:
        assert "path" not in r and r["id"].startswith(did + "?g/"), r
        assert isinstance(r["ra"], float) and isinstance(r["dec"], float), r
    return {r["id"].rsplit("/", 1)[1] for r in doc["progenitors"]}


def pixel_grids(coadds):
    out = []
    for p in coadds:
        with fits.open(p) as f, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hdu = next(h for h in f if h.data is not None and h.data.ndim == 2)
            out.append((p.name, WCS(hdu.header), hdu.data.shape))
    return out


def test_positions_name_exactly_the_coadds_covering_them(served):
    url, hips, coadds = served
    grids = pixel_grids(coadds)
    corners = []
    for _, w, (ny, nx) in grids:
        corners.append(w.pixel_to_world([-0.5, nx - 0.5, nx - 0.5, -0.5], [-0.5, -0.5, ny - 0.5, ny - 0.5]))
    ras = np.concatenate([c.icrs.ra.deg for c in corners])
    decs = np.concatenate([c.icrs.dec.deg for c in corners])
    rng = np.random.default_rng(20261129)
    # Bounding box of the patches, plus a margin so that some positions fall outside every coadd.
    ra_span = (ras.max() - ras.min()) if ras.max() - ras.min() < 180 else 1.0
    pts = zip(rng.uniform(ras.min() - 0.1 * ra_span, ras.max() + 0.1 * ra_span, 300),
              rng.uniform(decs.min() - 0.02, decs.max() + 0.02, 300))
    checked, multi, none = 0, 0, 0
    for ra, dec in pts:
        c = SkyCoord(ra, dec, unit="deg", frame="icrs")
        expected, ambiguous = set(), False
        for name, w, (ny, nx) in grids:
            x, y = w.world_to_pixel(c)
            inside = -0.5 <= x <= nx - 0.5 and -0.5 <= y <= ny - 0.5
            near_edge = min(abs(x + 0.5), abs(x - nx + 0.5), abs(y + 0.5), abs(y - ny + 0.5)) < 2
            ambiguous |= near_edge
            if inside:
                expected.add(name)
        if ambiguous:
            continue
        status, body = get(f"{url}/hips/progenitors?ra={ra % 360:.8f}&dec={dec:.8f}")
        assert status == 200, body
        doc = json.loads(body)
        got = names_in(doc, hips)
        assert got == expected, f"({ra}, {dec}): {got} != {expected}"
        assert doc["index_order"] == int(read_properties(hips)["hips_order"])
        checked += 1
        multi += len(expected) > 1
        none += not expected
    assert checked > 200 and multi > 3 and none > 10, (checked, multi, none)


def index_files(hips: Path, k: int) -> dict[int, list[dict]]:
    out = {}
    for f in (hips / "HpxFinder" / f"Norder{k}").glob("Dir*/Npix*"):
        out[int(f.name[4:])] = [json.loads(l) for l in f.read_text().splitlines() if l.strip()]
    return out


def test_tiles_gather_the_index_files_under_or_above_them(served):
    url, hips, _ = served
    k = int(read_properties(hips)["hips_order"])
    files = index_files(hips, k)
    assert files, "hipsgen wrote no HpxFinder files"
    some = sorted(files)[len(files) // 2]
    for up in (1, 2, 3):
        parent = some >> (2 * up)
        status, body = get(f"{url}/hips/progenitors?order={k - up}&ipix={parent}")
        assert status == 200, body
        doc = json.loads(body)
        children = [n for n in files if n >> (2 * up) == parent]
        expected = {(id_of(hips, r["path"]), r["hdu"]) for n in children for r in files[n]}
        names_in(doc, hips)
        assert {(r["id"], r["hdu"]) for r in doc["progenitors"]} == expected
        assert len(doc["progenitors"]) == len(expected), "records are deduplicated"
        assert doc["index_tiles"] == len(children)
    status, body = get(f"{url}/hips/progenitors?order={k + 2}&ipix={(some << 4) + 5}")
    assert status == 200, body
    assert [(r["id"], r["hdu"]) for r in json.loads(body)["progenitors"]] == [
        (id_of(hips, r["path"]), r["hdu"]) for r in files[some]]


def test_bad_queries_and_missing_index(served):
    url, hips, _ = served
    k = int(read_properties(hips)["hips_order"])
    for q, word in [("ra=1", "ra and dec"), ("ra=abc&dec=1", "ra="), ("ra=1&dec=95", "dec="),
                    ("order=2&ipix=999", "ipix="), (f"order={max(k - 6, 0)}&ipix=0", "index tiles"),
                    ("colour=red", "unknown parameter")]:
        status, body = get(f"{url}/hips/progenitors?{q}")
        assert status == 400 and word in body, (q, status, body)
    status, body = get(f"{url}/CFHT/progenitors?ra=10&dec=10")
    assert status == 404 and "HpxFinder" in body, body
