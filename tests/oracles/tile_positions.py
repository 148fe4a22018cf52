#!/usr/bin/env python3
"""astropy oracle for the kernel's interpolated input positions (hips-core/tests/kernel_positions_astropy.rs).

Usage: tile_positions.py < jobs.json

Jobs (JSON list on stdin), each: {"fits": PATH, "hdu": N} or {"header": CARD TEXT (one card per line)}, plus
"order", "npix", "width" (a HiPS tile), "frame" ("icrs" or "galactic": the HiPS frame) and "ixy": [[ix, iy], ...]
(in-tile pixel coordinates: ix on the even bits of the NESTED index, as the HiPS tile layout says).
Reply: a list (one per job) of [[x, y] | null, ...]: where astropy puts each pixel centre in the input image
(0-based pixel coordinates), null where astropy says the position is invalid.

Nothing from this repository is used: the pixel centres come from astropy-healpix, the frame transform from
astropy.coordinates (SkyCoord in the HiPS frame), the input pixel from astropy.wcs (all_world2pix with SIP / TPV /
DSS distortions, converged to 1e-10 pixel).
"""
import json
import sys
import warnings

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import wcs_to_celestial_frame
from astropy_healpix import HEALPix


def spread_bits(v):
    x = v.astype(np.uint64)
    for shift, mask in ((16, 0x0000FFFF0000FFFF), (8, 0x00FF00FF00FF00FF), (4, 0x0F0F0F0F0F0F0F0F),
                        (2, 0x3333333333333333), (1, 0x5555555555555555)):
        x = (x | (x << np.uint64(shift))) & np.uint64(mask)
    return x


def header_of(job):
    if "fits" in job:
        with fits.open(job["fits"]) as hl:
            return hl[job.get("hdu", 0)].header.copy()
    return fits.Header.fromstring(job["header"], sep="\n")


def positions(job):
    wcs = WCS(header_of(job), naxis=2)
    ixy = np.array(job["ixy"], dtype=np.uint64).reshape(-1, 2)
    width = int(job["width"])
    depth = int(job["order"]) + int(np.log2(width))
    nested = np.uint64(job["npix"]) * np.uint64(width * width) + (spread_bits(ixy[:, 0]) | (spread_bits(ixy[:, 1]) << np.uint64(1)))
    lon, lat = HEALPix(nside=2 ** depth, order="nested").healpix_to_lonlat(nested.astype(np.int64))
    sky = SkyCoord(lon, lat, frame="galactic" if job["frame"] == "galactic" else "icrs")
    native = sky.transform_to(wcs_to_celestial_frame(wcs))
    lon_n = native.spherical.lon.to_value(u.deg)
    lat_n = native.spherical.lat.to_value(u.deg)
    world = np.empty((len(lon_n), 2))
    world[:, wcs.wcs.lng] = lon_n
    world[:, wcs.wcs.lat] = lat_n
    pix = wcs.all_world2pix(world, 0, tolerance=1e-10, maxiter=200, adaptive=True, quiet=True)
    return [[float(x), float(y)] if np.isfinite(x) and np.isfinite(y) else None for x, y in pix]


def main():
    warnings.simplefilter("ignore", FITSFixedWarning)
    jobs = json.load(sys.stdin)
    json.dump([positions(j) for j in jobs], sys.stdout)


if __name__ == "__main__":
    main()
