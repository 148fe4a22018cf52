"""Independent HiPS reader for the hipsserve tests (astropy + astropy-healpix + numpy, no project code).

  build OUT_DIR          make a FITS HiPS of HorseHead.fits with reproject.hips.reproject_to_hips
  read URL DIR           draw HorseHead's field from the HiPS served at URL and from the folder DIR,
                         check both drawings are identical and match the input image; print a JSON summary

The reader follows the HiPS 1.0 layout: the pixel with global NESTED index N*W^2 + interleave(ix, iy) at order
K + log2(W) is FITS array element data[W-1-ix][iy] of tile NorderK/DirD/NpixN.fits.
"""
import json
import sys
import urllib.error
import urllib.request

import numpy as np
from astropy import units as u
from astropy.coordinates import ICRS
from astropy.io import fits
from astropy.wcs import WCS
from astropy_healpix import HEALPix

INPUT = sys.path[0] + "/../../../../shared/data/single_band/HorseHead.fits"


def build(out_dir):
    from reproject import reproject_interp
    from reproject.hips import reproject_to_hips

    hdu = fits.open(INPUT)[0]
    reproject_to_hips(hdu, coord_system_out="equatorial", reproject_function=reproject_interp,
                      output_directory=out_dir, tile_size=256)


def deinterleave(v):
    """Even bits -> ix, odd bits -> iy."""
    ix = np.zeros_like(v)
    iy = np.zeros_like(v)
    for b in range(32):
        ix |= ((v >> (2 * b)) & 1) << b
        iy |= ((v >> (2 * b + 1)) & 1) << b
    return ix, iy


def props_of(text):
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def draw(fetch, shape, wcs):
    props = props_of(fetch("properties").decode())
    order = int(props["hips_order"])
    width = int(props["hips_tile_width"])
    w = width.bit_length() - 1
    assert props["hips_tile_format"].split()[0] == "fits"
    hp = HEALPix(nside=2 ** (order + w), order="nested", frame=ICRS())
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    sky = wcs.pixel_to_world(xx.ravel(), yy.ravel())
    idx = hp.skycoord_to_healpix(sky).astype(np.int64)
    tiles = idx >> (2 * w)
    ix, iy = deinterleave(idx & (width * width - 1))
    out = np.full(idx.shape, np.nan)
    fetched = 0
    for t in np.unique(tiles):
        data = fetch(f"Norder{order}/Dir{(t // 10000) * 10000}/Npix{t}.fits")
        if data is None:
            continue
        fetched += 1
        import io
        arr = fits.getdata(io.BytesIO(data)).astype(float)
        sel = tiles == t
        out[sel] = arr[width - 1 - ix[sel], iy[sel]]
    return out.reshape(shape), fetched


def read(url, directory):
    hdu = fits.open(INPUT)[0]
    wcs = WCS(hdu.header).celestial
    image = hdu.data.astype(float)

    def from_url(rel):
        try:
            with urllib.request.urlopen(f"{url}/{rel}", timeout=30) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def from_dir(rel):
        try:
            with open(f"{directory}/{rel}", "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    served, n_served = draw(from_url, image.shape, wcs)
    local, n_local = draw(from_dir, image.shape, wcs)
    same = bool(np.array_equal(served, local, equal_nan=True))
    m = np.isfinite(served) & np.isfinite(image)
    corr = float(np.corrcoef(served[m], image[m])[0, 1])
    summary = {"tiles": n_served, "tiles_local": n_local, "same_as_local": same,
               "finite_fraction": float(m.mean()), "correlation_with_input": corr}
    print(json.dumps(summary))
    assert n_served > 0 and n_served == n_local, summary
    assert same, summary
    assert m.mean() > 0.95, summary
    assert corr > 0.95, summary


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build(sys.argv[2])
    else:
        read(sys.argv[2], sys.argv[3])
