"""Independent oracles for HiPS tiles: astropy / astropy-healpix / scipy, nothing from this repository.

A tile pixel (FITS row r, column c) of tile N at order K and width W = 2^w is the HEALPix NESTED pixel
N * W^2 + interleave(ix, iy) at order K + w, with ix = W - 1 - r, iy = c (ix on the even bits).
"""

from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from astropy_healpix import HEALPix
from scipy import ndimage


def spread_bits(v: np.ndarray) -> np.ndarray:
    x = v.astype(np.uint64)
    for shift, mask in ((16, 0x0000FFFF0000FFFF), (8, 0x00FF00FF00FF00FF), (4, 0x0F0F0F0F0F0F0F0F),
                        (2, 0x3333333333333333), (1, 0x5555555555555555)):
        x = (x | (x << np.uint64(shift))) & np.uint64(mask)
    return x


def tile_nested_indices(npix: int, width: int) -> np.ndarray:
    """Global NESTED index of every element data[r, c] of a FITS tile."""
    r, c = np.mgrid[0:width, 0:width]
    ix = (width - 1 - r).astype(np.uint64)
    iy = c.astype(np.uint64)
    return np.uint64(npix) * np.uint64(width * width) + (spread_bits(ix) | (spread_bits(iy) << np.uint64(1)))


def tile_sky(order: int, npix: int, width: int, frame: str = "icrs") -> SkyCoord:
    """Sky positions of the tile's pixel centres, from astropy-healpix."""
    depth = order + int(np.log2(width))
    hp = HEALPix(nside=2 ** depth, order="nested")
    lon, lat = hp.healpix_to_lonlat(tile_nested_indices(npix, width).astype(np.int64))
    return SkyCoord(lon, lat, frame="galactic" if frame == "galactic" else "icrs")


def load_input(path: Path, hdu: int | None = None):
    """(data as float64 with NaN blanks and NO_DATA masked, celestial WCS, hdu index) of an input image."""
    with fits.open(path) as hl:
        if hdu is None:
            hdu = next(i for i, h in enumerate(hl) if h.is_image and h.data is not None and h.data.ndim >= 2)
        h = hl[hdu]
        data = np.array(h.data, dtype=np.float64)
        # LSST exposures: MASK plane after the image; NO_DATA bit from MP_NO_DATA.
        for other in hl[hdu + 1:]:
            if other.header.get("EXTTYPE", other.header.get("EXTNAME", "")).upper() == "MASK" and "MP_NO_DATA" in other.header:
                bit = int(other.header["MP_NO_DATA"])
                data[(np.asarray(other.data).astype(np.int64) & (1 << bit)) != 0] = np.nan
                break
        return data, WCS(h.header).celestial, hdu


def bilinear_oracle(data: np.ndarray, wcs: WCS, sky: SkyCoord, frame=None):
    """astropy's input pixel position of every sky position and scipy's bilinear sample there (NaN when any of the
    four neighbours is blank or outside), plus the mask of positions whose four neighbours are all valid.

    Positions are astropy's own: `wcs.world_to_pixel(sky)`, which transforms `sky` to the header's frame
    (wcs_to_celestial_frame: ICRS, FK5, FK4 with E-terms, galactic, per RADESYS/EQUINOX) and inverts the WCS.
    `frame` overrides that frame (raw lon/lat in `frame` through all_world2pix): for ecliptic axes, which
    wcs_to_celestial_frame reads as equatorial (astropy issue #6483)."""
    if frame is None:
        x, y = wcs.world_to_pixel(sky)
    else:
        s = sky.transform_to(frame)
        lon, lat = s.spherical.lon.deg, s.spherical.lat.deg
        x, y = wcs.all_world2pix(lon.ravel(), lat.ravel(), 0)
        x, y = x.reshape(lon.shape), y.reshape(lon.shape)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    valid = np.isfinite(data)
    h, w = data.shape
    x0 = np.floor(x)
    y0 = np.floor(y)
    inside = (x0 >= 0) & (y0 >= 0) & (x0 + 1 < w) & (y0 + 1 < h)
    ok = np.zeros_like(inside)
    xi = np.where(inside, x0, 0).astype(int)
    yi = np.where(inside, y0, 0).astype(int)
    ok[inside] = (valid[yi, xi] & valid[yi, xi + 1] & valid[yi + 1, xi] & valid[yi + 1, xi + 1])[inside]
    filled = np.where(valid, data, 0.0)
    val = ndimage.map_coordinates(filled, [y.ravel(), x.ravel()], order=1, mode="nearest").reshape(x.shape)
    val[~ok] = np.nan
    return x, y, val, ok


def read_tile(path: Path) -> np.ndarray:
    with fits.open(path) as hl:
        return np.array(hl[0].data, dtype=np.float64)


DATE_KEYS = (b"hips_release_date", b"hips_creation_date")


def hips_tree(d: Path) -> dict:
    """Every object of a HiPS (run state excluded) by relative path, with the date lines of properties removed, for
    byte-for-byte comparisons of two runs."""
    out = {}
    for p in d.rglob("*"):
        rel = p.relative_to(d).as_posix()
        if p.is_file() and not rel.startswith("hipsgen-state/"):
            data = p.read_bytes()
            if rel == "properties":
                data = b"\n".join(ln for ln in data.split(b"\n") if not ln.startswith(DATE_KEYS))
            out[rel] = data
    return out


def synth_hips(hipsgen_bin, base: Path, patches: int, width: int) -> tuple:
    """`hipsgen synth` (band g, `patches` patches of 1024 px) then `hipsgen tiles` with `width`-px tiles into base/hips.
    Returns (hips dir, synth dir)."""
    import subprocess
    syn = base / "syn"
    subprocess.run([str(hipsgen_bin), "synth", "--out", str(syn), "--bands", "g", "--patches", str(patches),
                    "--patch-size", "1024"], check=True, capture_output=True, timeout=300)
    out = base / "hips"
    r = subprocess.run([str(hipsgen_bin), "tiles", "--input", str(syn / "g" / "*.fits"), "--out", str(out),
                        "--band", "g", "--tile-width", str(width)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return out, syn


def lanczos3_weights(f: np.ndarray) -> np.ndarray:
    """Lanczos-3 weights of the six taps floor(x) - 2 .. floor(x) + 3 for fractional parts `f` (shape (..., 6))."""
    t = f[..., None] - (np.arange(6) - 2.0)
    return np.sinc(t) * np.sinc(t / 3.0) * (np.abs(t) < 3)


def sampled_oracle(data: np.ndarray, wcs: WCS, sky: SkyCoord, interp: str):
    """Like `bilinear_oracle` for `nearest` (the input pixel whose centre is nearest) and `lanczos3` (normalised
    separable Lanczos-3 over the 6 x 6 taps around the position): (x, y, value, ok), `ok` where the nearest pixel
    (nearest) or all 36 taps (lanczos3) are inside the image and valid."""
    x, y, _, _ = bilinear_oracle(data, wcs, sky)
    h, w = data.shape
    valid = np.isfinite(data)
    val = np.full(x.shape, np.nan)
    if interp == "nearest":
        nx, ny = np.floor(x + 0.5), np.floor(y + 0.5)
        inside = np.isfinite(nx) & (nx >= 0) & (ny >= 0) & (nx < w) & (ny < h)
        xi, yi = np.where(inside, nx, 0).astype(int), np.where(inside, ny, 0).astype(int)
        ok = inside & valid[yi, xi]
        val[ok] = data[yi[ok], xi[ok]]
        return x, y, val, ok
    assert interp == "lanczos3", interp
    x0, y0 = np.floor(x), np.floor(y)
    inside = np.isfinite(x0) & (x0 - 2 >= 0) & (y0 - 2 >= 0) & (x0 + 3 < w) & (y0 + 3 < h)
    ok = np.zeros(x.shape, dtype=bool)
    xi, yi = x0[inside].astype(int), y0[inside].astype(int)
    wx, wy = lanczos3_weights(x[inside] - x0[inside]), lanczos3_weights(y[inside] - y0[inside])
    acc = np.zeros(xi.shape)
    all_valid = np.ones(xi.shape, dtype=bool)
    for j in range(6):
        for i in range(6):
            v = data[yi + j - 2, xi + i - 2]
            all_valid &= np.isfinite(v)
            acc += wy[:, j] * wx[:, i] * np.where(np.isfinite(v), v, 0.0)
    acc /= wx.sum(axis=1) * wy.sum(axis=1)
    ok[inside] = all_valid
    vals = np.full(xi.shape, np.nan)
    vals[all_valid] = acc[all_valid]
    val[inside] = vals
    return x, y, val, ok
