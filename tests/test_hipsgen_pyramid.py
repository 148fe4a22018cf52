"""Lower orders, Allsky and MOC of a HiPS made by `hipsgen tiles` from synthetic LSST-like coadds, each checked against
an independent computation in numpy / mocpy from the written FITS tiles:

- every tile of order k < K equals the 2x2 nanmean of its four children (quadrant rule of hips-notes.md), the set of
  tiles at order k is exactly the parents of order k+1, and order 0 exists;
- Norder3/Allsky.fits (27 x 29 blocks of W/8 px; tile n at column n % 27, file block row 28 - n // 27) equals the
  order-3 tiles reduced by 8x8 nanmean, NaN elsewhere;
- Moc.fits (read by mocpy) equals the MOC mocpy builds from the non-NaN pixels of the deepest tiles degraded to the
  MOC order (K + 3 by default), and properties' moc_sky_fraction equals mocpy's sky_fraction.
"""

import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from mocpy import MOC

from hips_oracle import synth_hips, tile_nested_indices
from browser_util import read_properties

WIDTH = 256


def tiles_at(hips: Path, order: int) -> dict[int, Path]:
    return {int(p.stem[4:]): p for p in (hips / f"Norder{order}").glob("Dir*/Npix*.fits")}


def read(p: Path) -> np.ndarray:
    with fits.open(p) as hl:
        return np.array(hl[0].data, dtype=np.float64)


def nanmean_blocks(a: np.ndarray, f: int) -> np.ndarray:
    """Mean of each f x f block ignoring NaN (NaN where the whole block is NaN)."""
    h, w = a.shape
    b = a.reshape(h // f, f, w // f, f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(b, axis=(1, 3))


def parent_from_children(children: dict[int, np.ndarray], n: int, w: int) -> np.ndarray:
    """Order-k tile n from its children 4n+q: child q fills ix >= W/2 when bit 0 of q is set (FITS rows 0..W/2-1,
    since ix = W-1-r) and iy >= W/2 (FITS columns W/2..W-1) when bit 1 is set."""
    out = np.full((w, w), np.nan)
    h = w // 2
    for q in range(4):
        c = children.get(4 * n + q)
        if c is None:
            continue
        r0 = 0 if q & 1 else h
        c0 = h if q & 2 else 0
        out[r0:r0 + h, c0:c0 + h] = nanmean_blocks(c, 2)
    return out


@pytest.fixture(scope="module")
def hips(tmp_path_factory, hipsgen_bin) -> Path:
    out, _ = synth_hips(hipsgen_bin, tmp_path_factory.mktemp("pyramid"), 4, WIDTH)
    return out


def test_lower_orders_are_2x2_nanmean_of_children(hips):
    props = read_properties(hips)
    order = int(props["hips_order"])
    w = int(props["hips_tile_width"])
    assert w == WIDTH
    assert tiles_at(hips, 0), "no order-0 tile"
    checked = 0
    for k in range(order - 1, -1, -1):
        parents = tiles_at(hips, k)
        kids = tiles_at(hips, k + 1)
        assert set(parents) == {n // 4 for n in kids}, f"order {k}: tiles are not the parents of order {k + 1}"
        kid_data = {n: read(p) for n, p in kids.items()}
        for n, p in parents.items():
            ours = read(p)
            want = parent_from_children(kid_data, n, w)
            assert np.array_equal(np.isnan(ours), np.isnan(want)), f"{p}: NaN pattern differs from the children"
            ok = ~np.isnan(want)
            assert ok.any(), f"{p}: a written tile with no data"
            np.testing.assert_allclose(ours[ok], want[ok], rtol=2e-6, atol=1e-6, err_msg=str(p))
            checked += 1
    assert checked >= order


def test_allsky_is_order3_reduced_by_8(hips):
    props = read_properties(hips)
    w = int(props["hips_tile_width"])
    b = w // 8
    allsky = read(hips / "Norder3" / "Allsky.fits")
    assert allsky.shape == (29 * b, 27 * b)
    t3 = tiles_at(hips, 3)
    assert t3
    expected = np.full_like(allsky, np.nan)
    for n in range(768):
        row = 28 - n // 27
        col = n % 27
        if n in t3:
            expected[row * b:(row + 1) * b, col * b:(col + 1) * b] = nanmean_blocks(read(t3[n]), 8)
    assert np.array_equal(np.isnan(allsky), np.isnan(expected)), "Allsky blank pattern differs"
    ok = ~np.isnan(expected)
    assert ok.sum() > 0
    np.testing.assert_allclose(allsky[ok], expected[ok], rtol=2e-6, atol=1e-6)


def test_moc_matches_mocpy_from_deepest_pixels(hips):
    props = read_properties(hips)
    order = int(props["hips_order"])
    w = int(props["hips_tile_width"])
    depth = order + int(np.log2(w))
    ours = MOC.from_fits(str(hips / "Moc.fits"))
    assert ours.max_order == order + 3, f"MOC order {ours.max_order}, expected K+3 = {order + 3}"
    cells = []
    for n, p in tiles_at(hips, order).items():
        data = read(p)
        idx = tile_nested_indices(n, w)[~np.isnan(data)]
        cells.append(np.unique(idx >> np.uint64(2 * (depth - ours.max_order))))
    cells = np.unique(np.concatenate(cells)).astype(np.uint64)
    want = MOC.from_healpix_cells(cells, np.full(cells.shape, ours.max_order, dtype=np.uint8), ours.max_order)
    extra = ours.difference(want)
    missing = want.difference(ours)
    assert ours == want, (f"MOC differs from the deepest pixels: {extra.sky_fraction:.3e} extra, "
                          f"{missing.sky_fraction:.3e} missing (sky fractions)")
    frac = float(props["moc_sky_fraction"])
    assert frac == pytest.approx(want.sky_fraction, rel=1e-6)


def test_hpxfinder_moc_lists_exactly_the_indexed_tiles(hips):
    """HpxFinder/Moc.fits (what CDS Hipsgen's PNG/JPEG actions walk) covers exactly the deepest tiles, which are
    exactly the tiles with an HpxFinder index file; HpxFinder/properties describes the index (dataproduct_type meta)."""
    props = read_properties(hips)
    order = int(props["hips_order"])
    index = MOC.from_fits(str(hips / "HpxFinder" / "Moc.fits"))
    assert index.max_order == order
    tiles = np.array(sorted(tiles_at(hips, order)), dtype=np.uint64)
    want = MOC.from_healpix_cells(tiles, np.full(tiles.shape, order, dtype=np.uint8), order)
    assert index == want
    indexed = sorted(int(p.name[4:]) for p in (hips / "HpxFinder" / f"Norder{order}").rglob("Npix*"))
    assert indexed == [int(t) for t in tiles]
    meta = read_properties(hips / "HpxFinder")
    assert meta["dataproduct_type"] == "meta" and meta["hips_order"] == str(order)
    assert meta["creator_did"] == props["creator_did"] + "/meta"
