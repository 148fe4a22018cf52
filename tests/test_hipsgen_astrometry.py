"""Astrometry of `hipsgen tiles` on synthetic coadds: bright isolated stars of `hipsgen synth`'s truth catalog are
measured in the deepest FITS tiles and must sit at their true positions (median offset < 0.02", 90th percentile
< 0.05").

Independent of the pipeline: each tile pixel is placed at its HEALPix centre by astropy-healpix (pixel order from
hips-notes.md, helpers in hips_oracle.py); the centroid is measured in a gnomonic tangent plane about the truth
position: background = median of a ring 8-10 px from the brightest pixel, then an iterated Gaussian-weighted
centroid (weight sigma = the synthetic PSF sigma, 0.7"/2.355) of the background-subtracted pixels within 6 px.
"""

import subprocess
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy_healpix import HEALPix

from hips_oracle import synth_hips, tile_nested_indices
from browser_util import read_properties

WIDTH = 256
PSF_SIGMA_ARCSEC = 0.7 / 2.3548
FLUX_MIN = 2.0e3  # bright: centroid noise ~0.005" for the synthetic sky noise
FLUX_MAX = 4.0e5  # below saturation (peak ~ flux / 14 < 5e4)


def compact_bits(v: np.ndarray) -> np.ndarray:
    x = v.astype(np.uint64) & np.uint64(0x5555555555555555)
    for shift, mask in ((1, 0x3333333333333333), (2, 0x0F0F0F0F0F0F0F0F), (4, 0x00FF00FF00FF00FF),
                        (8, 0x0000FFFF0000FFFF), (16, 0x00000000FFFFFFFF)):
        x = (x | (x >> np.uint64(shift))) & np.uint64(mask)
    return x


def tangent_arcsec(ra, dec, ra0, dec0):
    a, d, a0, d0 = (np.radians(v) for v in (ra, dec, ra0, dec0))
    cosc = np.sin(d0) * np.sin(d) + np.cos(d0) * np.cos(d) * np.cos(a - a0)
    xi = np.cos(d) * np.sin(a - a0) / cosc
    eta = (np.cos(d0) * np.sin(d) - np.sin(d0) * np.cos(d) * np.cos(a - a0)) / cosc
    return np.degrees(xi) * 3600.0, np.degrees(eta) * 3600.0


def isolated_bright(truth: np.ndarray) -> np.ndarray:
    ra, dec, flux = truth["ra"], truth["dec"], truth["flux_g"]
    keep = []
    for i in np.nonzero((flux >= FLUX_MIN) & (flux <= FLUX_MAX))[0]:
        x, y = tangent_arcsec(ra, dec, ra[i], dec[i])
        r = np.hypot(x, y)
        r[i] = np.inf
        # No star at all within 3", none brighter than 5% of it within 8".
        if r.min() > 3.0 and not np.any((r < 8.0) & (flux > 0.05 * flux[i])):
            keep.append(i)
    return np.array(keep, dtype=int)


@pytest.fixture(scope="module")
def build(tmp_path_factory, hipsgen_bin):
    base = tmp_path_factory.mktemp("astrometry")
    out, syn = synth_hips(hipsgen_bin, base, 8, WIDTH)
    truth = np.genfromtxt(syn / "truth.csv", delimiter=",", names=True)
    return out, truth


def test_star_centroids_match_truth(build):
    hips, truth = build
    props = read_properties(hips)
    order = int(props["hips_order"])
    w = int(props["hips_tile_width"])
    depth = order + int(np.log2(w))
    hp = HEALPix(nside=2 ** depth, order="nested")
    stars = isolated_bright(truth)
    assert len(stars) >= 20, f"only {len(stars)} bright isolated stars in the truth catalog"
    idx = hp.lonlat_to_healpix(truth["ra"][stars] * u.deg, truth["dec"][stars] * u.deg).astype(np.uint64)
    w2 = np.uint64(w * w)
    cache: dict[int, tuple[np.ndarray, np.ndarray] | None] = {}
    offsets = []
    skipped = {"tile": 0, "edge": 0, "blank": 0}
    half, ring = 6, 10
    for s, g in zip(stars, idx):
        n = int(g // w2)
        code = g % w2
        ix = int(compact_bits(code))
        iy = int(compact_bits(code >> np.uint64(1)))
        r0, c0 = w - 1 - ix, iy
        if n not in cache:
            p = hips / f"Norder{order}" / f"Dir{(n // 10000) * 10000}" / f"Npix{n}.fits"
            if p.is_file():
                with fits.open(p) as hl:
                    cache[n] = (np.array(hl[0].data, dtype=np.float64), tile_nested_indices(n, w))
            else:
                cache[n] = None
        if cache[n] is None:
            skipped["tile"] += 1
            continue
        data, nested = cache[n]
        # Brightest pixel within 3 px of the predicted one, then windows around it, all inside the tile.
        lo_r, lo_c = r0 - 3, c0 - 3
        if min(r0, c0) - 3 - ring < 0 or max(r0, c0) + 3 + ring >= w:
            skipped["edge"] += 1
            continue
        box = data[lo_r:r0 + 4, lo_c:c0 + 4]
        if not np.all(np.isfinite(box)):
            skipped["blank"] += 1
            continue
        br, bc = np.unravel_index(np.argmax(box), box.shape)
        rb, cb = lo_r + br, lo_c + bc
        win = data[rb - ring:rb + ring + 1, cb - ring:cb + ring + 1]
        if not np.all(np.isfinite(win)):
            skipped["blank"] += 1
            continue
        rr, cc = np.mgrid[-ring:ring + 1, -ring:ring + 1]
        dist = np.maximum(np.abs(rr), np.abs(cc))
        bkg = np.median(win[dist >= 8])
        sel = dist <= half
        vals = win[sel] - bkg
        lon, lat = hp.healpix_to_lonlat(nested[rb - ring:rb + ring + 1, cb - ring:cb + ring + 1][sel].astype(np.int64))
        x, y = tangent_arcsec(lon.deg, lat.deg, truth["ra"][s], truth["dec"][s])
        x0, y0 = x[np.argmax(vals)], y[np.argmax(vals)]
        for _ in range(40):
            wt = vals * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * PSF_SIGMA_ARCSEC ** 2))
            x0, y0 = np.sum(wt * x) / np.sum(wt), np.sum(wt * y) / np.sum(wt)
        offsets.append(np.hypot(x0, y0))
    offsets = np.array(offsets)
    assert len(offsets) >= 30, f"only {len(offsets)} stars measured (skipped {skipped})"
    med = float(np.median(offsets))
    p90 = float(np.percentile(offsets, 90))
    print(f"astrometry: {len(offsets)} stars (skipped {skipped}); median offset {med * 1000:.1f} mas, "
          f"90th percentile {p90 * 1000:.1f} mas, max {offsets.max() * 1000:.1f} mas")
    assert med < 0.02, f"median offset {med:.4f} arcsec"
    assert p90 < 0.05, f"90th percentile offset {p90:.4f} arcsec"
