"""Write astropy CompImageHDU copies of the shared images (argv[1]) into argv[2], one per case, each with
`<case>.ref`: astropy's own decompressed data (unscaled), big-endian, the oracle of hips-core/tests/fits_compressed.rs.
argv[3:] (optional): only these cases. Prints one line per case: name, dtype, width, height."""
import sys

import numpy as np
from astropy.io import fits

D, out = sys.argv[1], sys.argv[2]
HORSE = "single_band/HorseHead.fits"
SDSS = "multiband_sdss/reprojected_sdss_g.fits"
BOLO = "single_band/gc_bolocam_gps.fits"
HC = "HCOMPRESS_1"
cases = [
    ("horse_rice", HORSE, dict(compression_type="RICE_1")),
    ("horse_gzip1", HORSE, dict(compression_type="GZIP_1")),
    ("horse_gzip2", HORSE, dict(compression_type="GZIP_2")),
    ("horse_plio", HORSE, dict(compression_type="PLIO_1")),
    ("horse_nocomp", HORSE, dict(compression_type="NOCOMPRESS")),
    ("horse_rice_tiles", HORSE, dict(compression_type="RICE_1", tile_shape=(50, 128))),
    ("horse_hcomp", HORSE, dict(compression_type=HC, tile_shape=(16, 891))),
    ("horse_hcomp_odd", HORSE, dict(compression_type=HC, tile_shape=(15, 101))),
    ("horse_hcomp_lossy", HORSE, dict(compression_type=HC, tile_shape=(32, 64), hcomp_scale=4)),
    ("horse_hcomp_smooth", HORSE, dict(compression_type=HC, tile_shape=(32, 64), hcomp_scale=4, hcomp_smooth=True)),
    ("sdss_hcomp_d1", SDSS, dict(compression_type=HC, tile_shape=(16, 682), quantize_method=1, dither_seed=11)),
    ("bolo_hcomp_d2_smooth", BOLO,
     dict(compression_type=HC, tile_shape=(40, 40), quantize_method=2, hcomp_scale=2.5, hcomp_smooth=True)),
    ("2mass_rice", "multiband_2mass_gc/gc_2mass_h.fits", dict(compression_type="RICE_1")),
    ("sdss_rice_d1", SDSS, dict(compression_type="RICE_1", quantize_method=1, dither_seed=17)),
    ("sdss_rice_d2", SDSS, dict(compression_type="RICE_1", quantize_method=2, dither_seed=9999)),
    ("sdss_rice_nd", SDSS, dict(compression_type="RICE_1", quantize_method=-1)),
    ("sdss_gzip1_d1", SDSS, dict(compression_type="GZIP_1", quantize_method=1, dither_seed=3)),
    ("sdss_gzip2_lossless", SDSS, dict(compression_type="GZIP_2", quantize_level=0.0)),
    ("sdss_gzip1_lossless", SDSS, dict(compression_type="GZIP_1", quantize_level=0.0)),
    ("sdss_nocomp_d1", SDSS, dict(compression_type="NOCOMPRESS", quantize_method=1, dither_seed=5)),
    ("bolo_rice_d2", BOLO, dict(compression_type="RICE_1", quantize_method=2, dither_seed=42, tile_shape=(32, 100))),
    ("bolo_gzip2_d1", BOLO, dict(compression_type="GZIP_2", quantize_method=1, dither_seed=1)),
    ("spitzer_rice_d1", "single_band/spitzer_example_image.fits",
     dict(compression_type="RICE_1", quantize_method=1, quantize_level=4, dither_seed=8000)),
]
only = set(sys.argv[3:])
for name, path, kw in cases:
    if only and name not in only:
        continue
    with fits.open(f"{D}/{path}") as f:
        h = f[0].header.copy()
        data = f[0].data
    for k in ("SIMPLE", "EXTEND"):
        h.remove(k, ignore_missing=True)
    hdu = fits.CompImageHDU(data=data, header=h, **kw)
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(f"{out}/{name}.fits", overwrite=True)
    with fits.open(f"{out}/{name}.fits", do_not_scale_image_data=True) as g:
        d = g[1].data
        d.astype(d.dtype.newbyteorder(">")).tofile(f"{out}/{name}.ref")
        print(name, d.dtype.str, d.shape[1], d.shape[0])
