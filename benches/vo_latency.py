"""SIA 2.0 query and DataLink latency of hipsserve's /vo/ services with a large coadd catalogue (issue #15: p99 under
20 ms with 10,000 coadds), next to a peer in the same run: the per-HiPS `/progenitors?ra=&dec=` lookup (one index
file through the object cache) on the same server.

Builds a HiPS whose progenitor index (HpxFinder, order 8) lists N synthetic coadds of 0.25 x 0.25 deg on a 0.2 deg
grid (each in the index tile of its centre; the coadd files need not exist for these two services), starts the
server, times the first request (the catalogue is built then), then sequential keep-alive requests of each kind at
random places: SIA `POS=CIRCLE ra dec r` (r 0.05 to 0.5 deg), DataLink for one random coadd, the peer lookup.

    .venv/bin/python benches/vo_latency.py target/debug/hipsserve [N] [requests]
"""

import http.client
import random
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import astropy.units as u
from astropy_healpix import HEALPix

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from browser_util import hipsserve  # noqa: E402

ORDER = 8


def build(root: Path, n: int) -> tuple:
    side = int(n ** 0.5 + 0.999)
    hips = root / "srv" / "big"
    (hips / "HpxFinder").mkdir(parents=True)
    (hips / "properties").write_text(
        "creator_did = ivo://bench/P/big\nobs_title = bench\ndataproduct_type = image\nhips_version = 1.4\n"
        f"hips_frame = equatorial\nhips_order = {ORDER}\nhips_tile_width = 512\nhips_tile_format = fits\n")
    (hips / "HpxFinder" / "properties").write_text("hips_order = 8\n")
    hp = HEALPix(nside=2 ** ORDER, order="nested")
    files: dict[int, list[str]] = {}
    ids = []
    for i in range(n):
        ra, dec = 100.0 + 0.2 * (i % side), -10.0 + 0.2 * (i // side)
        h = 0.125
        stc = f"POLYGON J2000 {ra - h} {dec - h} {ra + h} {dec - h} {ra + h} {dec + h} {ra - h} {dec + h}"
        path = f"{root}/coadds/c{i:05d}.fits"
        rec = (f'{{"band":"g","dec":"{dec:.7f}","hdu":1,"height":4500,"name":"c{i:05d}.fits","path":"{path}",'
               f'"pixel_scale_arcsec":"0.2","ra":"{ra:.7f}","stc":"{stc}","width":4500,"MJD-OBS":"60000.5",'
               f'"EXPTIME":"30"}}')
        npix = int(hp.lonlat_to_healpix(ra * u.deg, dec * u.deg))
        files.setdefault(npix, []).append(rec)
        ids.append(f"ivo://bench/P/big?c{i:05d}.fits")
    for npix, recs in files.items():
        d = hips / "HpxFinder" / f"Norder{ORDER}" / f"Dir{npix // 10000 * 10000}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"Npix{npix}").write_text("\n".join(recs) + "\n")
    (root / "coadds").mkdir()
    side_ra = (100.0, 100.0 + 0.2 * side)
    side_dec = (-10.0, -10.0 + 0.2 * (n // side))
    return ids, side_ra, side_dec


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    reqs = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ids, (ra0, ra1), (dec0, dec1) = build(root, n)
        cfg = root / "cfg.toml"
        cfg.write_text(f'listen = "127.0.0.1:0"\nroots = ["{root / "srv"}"]\n[on_demand]\n'
                       f'coadd_roots = ["{root / "coadds"}"]\n')
        with hipsserve(binary, "--config", str(cfg), "--no-access-log") as url:
            host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
            conn = http.client.HTTPConnection(host, port, timeout=60)

            def get(path):
                t = time.perf_counter()
                conn.request("GET", path)
                r = conn.getresponse()
                body = r.read()
                assert r.status == 200, (path, r.status, body[:300])
                return time.perf_counter() - t, body

            first, body = get("/vo/sia/query?POS=CIRCLE+110+0+0.3")
            rng = random.Random(1)
            sia, links, peer, rows = [], [], [], []
            for _ in range(reqs):
                ra, dec = rng.uniform(ra0, ra1), rng.uniform(dec0, dec1)
                r = rng.uniform(0.05, 0.5)
                t, body = get(f"/vo/sia/query?POS=CIRCLE+{ra:.5f}+{dec:.5f}+{r:.4f}")
                sia.append(t)
                rows.append(body.count(b"<TR>"))
                t, _ = get("/vo/links?ID=" + urllib.parse.quote(rng.choice(ids)))
                links.append(t)
                t, _ = get(f"/big/progenitors?ra={ra:.5f}&dec={dec:.5f}")
                peer.append(t)
            ms = lambda x: f"{x * 1000:.2f} ms"
            print(f"coadds {n}, requests {reqs} of each kind (sequential, keep-alive)")
            print(f"first SIA query (builds the catalogue): {ms(first)}")
            for name, xs in [("SIA query", sia), ("DataLink", links), ("peer /progenitors", peer)]:
                print(f"{name:20s} p50 {ms(statistics.median(xs))}  p99 {ms(pct(xs, 99))}  max {ms(max(xs))}")
            print(f"SIA rows per answer: median {statistics.median(rows)}, max {max(rows)}")
            print(f"ratio p50 SIA / peer: {statistics.median(sia) / statistics.median(peer):.2f}, "
                  f"DataLink / peer: {statistics.median(links) / statistics.median(peer):.2f}")


if __name__ == "__main__":
    main()
