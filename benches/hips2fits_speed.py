"""hips2fits output speed (issue #17): hipsserve's `GET /hips2fits` (FITS, 1000 x 1000 TAN pixels at the coadd's own
scale, centred on one synthetic coadd, sampled bilinearly from the coadds) against reproject's `reproject_interp`
(bilinear) of the same coadd onto the same WCS, in the same run. Medians of 5 runs each; the server's answer includes
HTTP and FITS encoding, reproject's includes nothing but the sampling (the coadd is already in memory).

Usage: flock -x /tmp/cpu.lock .venv/bin/python benches/hips2fits_speed.py [TARGET_DIR]   (default target/debug)
"""

import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import warnings
from io import BytesIO
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from reproject import reproject_interp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from browser_util import hipsserve  # noqa: E402

TARGET = Path(sys.argv[1] if len(sys.argv) > 1 else "target/debug")
N = 1000


def main():
    base = Path(tempfile.mkdtemp(prefix="hips2fits-bench-"))
    syn = base / "syn"
    subprocess.run([TARGET / "hipsgen", "synth", "--out", syn, "--bands", "g", "--patches", "4", "--patch-size",
                    "2048"], check=True, capture_output=True)
    subprocess.run([TARGET / "hipsgen", "tiles", "--input", syn / "g" / "*.fits", "--out", base / "srv" / "hips",
                    "--band", "g"], check=True, capture_output=True)
    coadd = sorted((syn / "g").glob("*.fits"))[0]
    with fits.open(coadd) as hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hdu = next(h for h in hdul if h.data is not None and h.data.ndim == 2)
        data, wcs = hdu.data.astype(np.float64), WCS(hdu.header)
    ny, nx = data.shape
    c = wcs.pixel_to_world(nx / 2, ny / 2)
    fov = N * wcs.proj_plane_pixel_scales()[0].to_value("deg")
    q = urllib.parse.urlencode(dict(hips="hips", width=N, height=N, projection="TAN", ra=c.ra.deg, dec=c.dec.deg,
                                    fov=fov, format="fits"))
    cfg = base / "serve.toml"
    cfg.write_text(f'[on_demand]\ncoadd_roots = ["{syn}"]\n')
    with hipsserve(TARGET / "hipsserve", "--root", str(base / "srv"), "--listen", "127.0.0.1:0", "--no-access-log",
                   "--config", str(cfg)) as url:
        server = []
        for _ in range(5):
            t0 = time.perf_counter()
            with urllib.request.urlopen(f"{url}/hips2fits?{q}") as r:
                body = r.read()
            server.append(time.perf_counter() - t0)
        header = fits.getheader(BytesIO(body))
        ours = []
        for _ in range(5):
            t0 = time.perf_counter()
            reproject_interp((data, wcs), header, order="bilinear")
            ours.append(time.perf_counter() - t0)
        mpix = N * N / 1e6
        s, r = statistics.median(server), statistics.median(ours)
        print(f"{N} x {N} FITS: hipsserve /hips2fits {s * 1e3:.0f} ms ({mpix / s:.1f} Mpix/s), reproject_interp "
              f"bilinear {r * 1e3:.0f} ms ({mpix / r:.1f} Mpix/s); hipsserve/reproject speed {r / s:.2f}x; "
              f"CDS hips2fits publishes 0.5 Mpix/s")


if __name__ == "__main__":
    main()
