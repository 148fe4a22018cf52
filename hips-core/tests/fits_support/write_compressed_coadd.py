"""An LSST-style tile-compressed coadd from the shared HSC exposure (argv[1] = shared data dir): IMAGE RICE_1 with
SUBTRACTIVE_DITHER_2, MASK (int32, as afw writes it now) GZIP_2 lossless, VARIANCE RICE_1 quantized with
SUBTRACTIVE_DITHER_1, 2-D tiles; written to argv[2]/coadd_rice.fits, and astropy's decompression of it as plain image
HDUs (same headers) to argv[2]/coadd_plain.fits. argv[3] (optional): a RICE row-tiled copy of the Spitzer image
(1025 x 513) for the byte-count test at argv[2]/spitzer_rice.fits."""
import sys

import numpy as np
from astropy.io import fits

src, out = sys.argv[1], sys.argv[2]
with fits.open(f"{src}/lsst_exposure/lsst_afw_HSC-0908120-056-small.fits") as f:
    prim = f[0].header.copy()
    planes = [(f[i].header.copy(), f[i].data) for i in (1, 2, 3)]
hdus = [fits.PrimaryHDU(header=prim)]
for (h, data), name, kw in zip(
    planes,
    ("IMAGE", "MASK", "VARIANCE"),
    (
        dict(compression_type="RICE_1", quantize_method=2, quantize_level=16, dither_seed=123),
        dict(compression_type="GZIP_2"),
        dict(compression_type="RICE_1", quantize_method=1, quantize_level=16, dither_seed=321),
    ),
):
    for k in ("BZERO", "BSCALE"):
        h.remove(k, ignore_missing=True)
    if name == "MASK":
        data = data.astype(np.int32)
    h["EXTNAME"] = name
    hdus.append(fits.CompImageHDU(data=data, header=h, tile_shape=(64, 50), **kw))
fits.HDUList(hdus).writeto(f"{out}/coadd_rice.fits", overwrite=True)
with fits.open(f"{out}/coadd_rice.fits") as g:
    plain = [fits.PrimaryHDU(header=g[0].header)]
    plain += [fits.ImageHDU(data=g[i].data, header=g[i].header) for i in (1, 2, 3)]
    fits.HDUList(plain).writeto(f"{out}/coadd_plain.fits", overwrite=True)
with fits.open(f"{src}/single_band/spitzer_example_image.fits") as f:
    h, d = f[0].header.copy(), f[0].data
comp = fits.CompImageHDU(data=d, header=h, compression_type="RICE_1", quantize_method=1)
fits.HDUList([fits.PrimaryHDU(), comp]).writeto(f"{out}/spitzer_rice.fits", overwrite=True)
print("ok")
