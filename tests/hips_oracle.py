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
