"""Throughput of hipsserve's `GET /vo/mosaic` (issue #15, DMS-REQ-0373: a 10 deg^2 coadd with mask and variance
within 60 s, 10 requests at once), in output Mpix/s and sky area per second, one request and 10 at once, at the
coadds' pixel scale (0.2") and at a coarse SCALE (2"), with a peer in the same run: reproject's `reproject_interp`
(bilinear image and variance, nearest mask) of the same coadds onto the same grid plus the inverse-variance
combination in numpy, one process.

Inputs: `hipsgen synth` LSST-like patches (IMAGE/MASK/VARIANCE, 0.2"/px, 100 px overlaps) in band g; their
progenitor index is written here from their headers (astropy footprints), as hipsgen would list them. The mosaic is a
CIRCLE of radius R deg at their union's centre. Each timing is the median of REPEAT runs (10-at-once: the wall time
of the batch). Run it alone on the machine:

    flock -x /tmp/cpu.lock .venv/bin/python benches/mosaic_throughput.py target/release/hipsserve \\
        target/debug/hipsgen [patch_size] [R]
"""

import json
import re
import select
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from reproject import reproject_interp

REPEAT = 3
DEG2_ARCSEC2 = 3600.0**2


def index(root: Path, coadds: list[Path]) -> Path:
    srv = root / "srv" / "bench"
    d = srv / "HpxFinder" / "Norder6" / "Dir0"
    d.mkdir(parents=True)
    (srv / "properties").write_text(
        "creator_did = ivo://bench/P/mosaic\nobs_title = bench\ndataproduct_type = image\nhips_version = 1.4\n"
        "hips_frame = equatorial\nhips_order = 6\nhips_tile_width = 512\nhips_tile_format = fits\n")
    (srv / "HpxFinder" / "properties").write_text("hips_order = 6\n")
    recs = []
    for f in coadds:
        with fits.open(f) as h:
            w, (ny, nx) = WCS(h[1].header), h[1].data.shape
        corners = w.calc_footprint()
        ra, dec = w.pixel_to_world_values((nx - 1) / 2, (ny - 1) / 2)
        stc = "POLYGON J2000 " + " ".join(f"{a:.7f} {b:.7f}" for a, b in corners)
        recs.append(json.dumps({"path": str(f), "hdu": 1, "band": "g", "ra": f"{ra:.7f}", "dec": f"{dec:.7f}",
                                "stc": stc, "width": nx, "height": ny, "pixel_scale_arcsec": "0.2"}))
    (d / "Npix0").write_text("\n".join(recs) + "\n")
    return root / "srv"


def start(binary, cfg):
    proc = subprocess.Popen([binary, "--config", str(cfg), "--no-access-log"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            m = re.search(r"http://(\d+\.\d+\.\d+\.\d+:\d+)", proc.stdout.readline())
            if m:
                return proc, "http://" + m.group(1)
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("hipsserve did not start: " + proc.stderr.read()[-2000:])


def get(url):
    with urllib.request.urlopen(url, timeout=900) as r:
        assert r.status == 200, r.status
        return r.read()


def timed(urls):
    t = time.perf_counter()
    with ThreadPoolExecutor(len(urls)) as ex:
        bodies = list(ex.map(get, urls))
    return time.perf_counter() - t, bodies


def peer(coadds, body):
    """reproject's bilinear image/variance and nearest mask of every coadd on the mosaic's grid, combined."""
    with fits.open(BytesIO(body)) as h:
        w, shape = WCS(h["IMAGE"].header), h["IMAGE"].data.shape
    t = time.perf_counter()
    num, den, mask = np.zeros(shape), np.zeros(shape), np.zeros(shape, np.int64)
    for f in coadds:
        with fits.open(f) as h:
            src = WCS(h[1].header)
            ri, _ = reproject_interp((h[1].data, src), w, shape_out=shape, order="bilinear")
            rm, _ = reproject_interp((h[2].data.astype(float), src), w, shape_out=shape, order="nearest-neighbor")
            rv, _ = reproject_interp((h[3].data, src), w, shape_out=shape, order="bilinear")
        ok = np.isfinite(ri) & np.isfinite(rv) & (rv > 0)
        num += np.where(ok, ri / np.where(ok, rv, 1), 0)
        den += np.where(ok, 1 / np.where(ok, rv, 1), 0)
        mask |= np.where(np.isfinite(rm) & ok, rm, 0).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        _ = (num / den, 1 / den)
    return time.perf_counter() - t


def main():
    server, hipsgen = sys.argv[1], sys.argv[2]
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 2048
    radius = float(sys.argv[4]) if len(sys.argv) > 4 else 0.05
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run([hipsgen, "synth", "--out", root / "syn", "--bands", "g", "--patches", "4", "--patch-size",
                        str(size), "--ra", "150", "--dec", "2"], check=True, capture_output=True)
        coadds = sorted((root / "syn" / "g").glob("*.fits"))
        srv = index(root, coadds)
        with fits.open(coadds[0]) as h0, fits.open(coadds[-1]) as h1:
            a = WCS(h0[1].header).pixel_to_world_values(0, 0)
            b = WCS(h1[1].header).pixel_to_world_values(size - 1, size - 1)
        ra, dec = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
        cfg = root / "cfg.toml"
        cfg.write_text(f'listen = "127.0.0.1:0"\nroots = ["{srv}"]\n[limits]\nmax_uncached_bytes = 2147483648\n'
                       f'[on_demand]\ncoadd_roots = ["{root / "syn"}"]\ntimeout_ms = 900000\n'
                       f'max_mosaic_pixels = 67108864\n')
        proc, url = start(server, cfg)
        try:
            print(f"inputs: {len(coadds)} patches of {size}^2 at 0.2\"; region CIRCLE {ra:.4f} {dec:.4f} {radius}")
            rows = []
            for scale in (None, 2.0):
                q = {"POS": f"CIRCLE {ra} {dec} {radius}", "BAND": "450e-9 460e-9"}
                if scale:
                    q["SCALE"] = str(scale)
                one = f"{url}/vo/mosaic?" + urllib.parse.urlencode(q)
                _, (body,) = timed([one])  # warm: catalogue, page cache
                with fits.open(BytesIO(body)) as h:
                    ny, nx = h["IMAGE"].data.shape
                    s = abs(h["IMAGE"].header["CD2_2"]) * 3600
                    assert np.isfinite(h["IMAGE"].data).mean() > 0.9 and h[0].header["NCOMBINE"] == len(coadds)
                mpix, deg2 = nx * ny / 1e6, nx * ny * s * s / DEG2_ARCSEC2
                t1 = statistics.median(timed([one])[0] for _ in range(REPEAT))
                t10 = statistics.median(timed([one] * 10)[0] for _ in range(REPEAT))
                tp = statistics.median(peer(coadds, body) for _ in range(REPEAT)) if scale is None else None
                rows.append((s, nx, ny, mpix, deg2, t1, t10, tp, len(body)))
            print("| SCALE (\") | output px | MB | 1 request: s, Mpix/s, deg2/s | 10 at once: wall s, Mpix/s, "
                  "deg2/s | reproject peer (1 process): s, Mpix/s |")
            print("|---|---|---|---|---|---|")
            for s, nx, ny, mpix, deg2, t1, t10, tp, n in rows:
                p = f"{tp:.2f} s, {mpix / tp:.2f} Mpix/s (ratio {tp / t1:.1f}x)" if tp else "-"
                print(f"| {s:.2f} | {nx} x {ny} | {n / 1e6:.0f} | {t1:.2f} s, {mpix / t1:.2f}, {deg2 / t1:.5f} | "
                      f"{t10:.2f} s, {10 * mpix / t10:.2f}, {10 * deg2 / t10:.5f} | {p} |")
            print("DMS-REQ-0373 extrapolation (10 mosaics of 10 deg^2 at once, linear in area from the 10-at-once "
                  "rate):")
            for s, nx, ny, mpix, deg2, t1, t10, tp, n in rows:
                need = 10 * 10.0 / (10 * deg2 / t10)
                px = 10.0 * DEG2_ARCSEC2 / (s * s)
                print(f"  SCALE {s:.2f}\": {px / 1e6:.0f} Mpix per plane per mosaic ({px * 12 / 1e9:.1f} GB with mask "
                      f"and variance), 10 at once in {need:.0f} s (requirement 60 s)")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
