"""Issue #17: `GET /hips2fits` works with astroquery's hips2fits client (PyPI astroquery) pointed at hipsserve.

A HiPS is made by `hipsgen tiles` from synthetic LSST-like coadds and served with its coadd root. astroquery asks for
a TAN image centred on one coadd with pixels twice finer than the deepest order: the FITS it returns must equal
reproject's bilinear sampling of that coadd on the returned WCS (median difference below 1e-3 of the range). PNG and
JPEG answers must be that image through the percentile cuts asked; an unknown HiPS raises astroquery's error carrying
our title, and a bad parameter names it.
"""

import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import Angle, Longitude, Latitude
from astropy.io import fits
from astropy.wcs import WCS

from browser_util import hipsserve, read_properties
from hips_oracle import synth_hips

WIDTH = 256


@pytest.fixture(scope="module")
def served(hipsgen_bin, hipsserve_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("hips2fits")
    hips, syn = synth_hips(hipsgen_bin, base / "srv", 4, WIDTH)
    cfg = base / "serve.toml"
    cfg.write_text(f'[on_demand]\ncoadd_roots = ["{syn}"]\n')
    with hipsserve(hipsserve_bin, "--root", str(base / "srv"), "--listen", "127.0.0.1:0", "--no-access-log",
                   "--config", str(cfg)) as url:
        yield url, hips, syn


@pytest.fixture()
def client(served):
    from astroquery.hips2fits import hips2fits
    hips2fits.server = f"{served[0]}/hips2fits"
    hips2fits.timeout = 120
    return hips2fits


def coadd_image(path: Path):
    with fits.open(path) as hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hdu = next(h for h in hdul if h.data is not None and h.data.ndim == 2)
        return hdu.data.astype(np.float64), WCS(hdu.header)


def query(client, served, fmt, **kw):
    url, hips, syn = served
    data, wcs = coadd_image(sorted((syn / "g").glob("*.fits"))[0])
    ny, nx = data.shape
    centre = wcs.pixel_to_world(nx / 2, ny / 2)
    scale = float(read_properties(hips)["hips_pixel_scale"]) / 2
    args = dict(hips="hips", width=300, height=200, projection="TAN", ra=Longitude(centre.ra),
                dec=Latitude(centre.dec), fov=Angle(300 * scale * u.deg), format=fmt)
    args.update(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return client.query(**args), data, wcs


def test_fits_equals_reproject_bilinear(client, served):
    from reproject import reproject_interp
    hdul, data, wcs = query(client, served, "fits")
    got = hdul[0].data.astype(np.float64)
    assert got.shape == (200, 300)
    want, _ = reproject_interp((data, wcs), hdul[0].header, order="bilinear")
    both = np.isfinite(got) & np.isfinite(want)
    assert both.mean() > 0.9, both.mean()
    rng = np.nanmax(want) - np.nanmin(want)
    diff = np.median(np.abs(got[both] - want[both]))
    assert diff < 1e-3 * rng, (diff, rng)
    # The same image asked with the WCS itself (astroquery sends it as a JSON header).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = client.query_with_wcs(hips="hips", wcs=WCS(hdul[0].header), format="fits")[0].data
    np.testing.assert_allclose(again, hdul[0].data, rtol=0, atol=1e-6 * rng, equal_nan=True)


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_previews_use_the_cuts_asked(client, served, fmt):
    hdul, _, _ = query(client, served, "fits")
    values = hdul[0].data.astype(np.float64)
    img, _, _ = query(client, served, fmt, min_cut=5.0, max_cut=95.0, stretch="linear")
    grey = img[..., 0] if img.ndim == 3 else img
    finite = values[np.isfinite(values)]
    lo, hi = np.percentile(finite, 5.0, method="nearest"), np.percentile(finite, 95.0, method="nearest")
    want = np.round(255 * np.clip((values - lo) / (hi - lo), 0, 1))
    want = np.where(np.isfinite(values), want, 0)[::-1]
    diff = np.abs(grey.astype(float) - want)
    if fmt == "png":
        assert (diff <= 1).mean() > 0.999, diff.max()
    else:
        # JPEG (quality 90) adds compression noise on these noisy images, not a shift: the cut is the same.
        assert abs(grey.mean() - want.mean()) < 1.0, (grey.mean(), want.mean())
        assert np.corrcoef(grey.ravel(), want.ravel())[0, 1] > 0.98


def test_unknown_hips_and_bad_parameters_raise_our_error(client, served):
    with pytest.raises(AttributeError, match="HiPS not found"):
        query(client, served, "fits", hips="no-such-hips")
    with pytest.raises(AttributeError, match="Invalid parameter cmap"):
        query(client, served, "png", cmap="jet")


@pytest.mark.parametrize("cmap", ["viridis", "magma_r", "Greys"])
def test_colour_maps_follow_matplotlib(client, served, cmap):
    import matplotlib
    grey, _, _ = query(client, served, "png", min_cut=5.0, max_cut=95.0, stretch="linear")
    img, _, _ = query(client, served, "png", min_cut=5.0, max_cut=95.0, stretch="linear", cmap=cmap)
    level = grey[..., 0] if grey.ndim == 3 else grey
    assert img.ndim == 3 and img.shape[2] in (3, 4), img.shape
    want = np.round(255 * matplotlib.colormaps[cmap](level / 255.0)[..., :3])
    shown = (img[..., 3] > 0) if img.shape[2] == 4 else np.ones(level.shape, bool)
    assert shown.mean() > 0.9
    diff = np.abs(img[..., :3].astype(float) - want)[shown]
    # colorous carries d3's tables of matplotlib's maps: the same colours within a few levels.
    assert np.percentile(diff, 99) <= 4, (cmap, np.percentile(diff, 99), diff.max())


def test_coarser_than_the_deepest_order_comes_from_the_tiles(client, served):
    """Pixels four times coarser than the deepest order: sampled from the tiles two orders up (each a 2x2 mean of
    the one below), close to reproject's adaptive (footprint-averaging) resampling of the coadd."""
    from reproject import reproject_adaptive
    url, hips, syn = served
    scale = float(read_properties(hips)["hips_pixel_scale"]) * 2
    hdul, data, wcs = query(client, served, "fits", width=150, height=100, fov=Angle(150 * 4 * scale * u.deg))
    got = hdul[0].data.astype(np.float64)
    want, _ = reproject_adaptive((data, wcs), hdul[0].header, conserve_flux=False)
    both = np.isfinite(got) & np.isfinite(want)
    assert both.mean() > 0.5, both.mean()
    rng = np.nanpercentile(want, 99.5) - np.nanpercentile(want, 0.5)
    assert np.median(np.abs(got[both] - want[both])) < 0.05 * rng
    # Noise-dominated synthetic sky averaged over HEALPix pixels vs output pixels: correlated, and far more than
    # with the image turned over (a wrong orientation of the tile pixels would show there).
    rho = np.corrcoef(got[both], want[both])[0, 1]
    flipped = want[::-1, ::-1]
    both_f = np.isfinite(got) & np.isfinite(flipped)
    assert rho > 0.6 and rho > 3 * abs(np.corrcoef(got[both_f], flipped[both_f])[0, 1]), rho
