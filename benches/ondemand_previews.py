"""On-demand preview tiles (issue #17): storage of `hipsgen tiles --stored-order K-2` against a full run, and the
latency (p50/p99, cold = first request of a tile, warm = repeated) and server CPU per request of PNG tiles of orders
K-1 and K rendered by hipsserve, against the stored PNG tiles of order K-2 read from disk in the same run.

Usage: flock -x /tmp/cpu.lock .venv/bin/python benches/ondemand_previews.py [TARGET_DIR]   (default target/debug)
"""

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from browser_util import hipsserve_process, read_properties  # noqa: E402

TARGET = Path(sys.argv[1] if len(sys.argv) > 1 else "target/debug")
WIDTH = 512


def run(*args):
    subprocess.run([str(a) for a in args], check=True, capture_output=True, timeout=1800)


def size(d: Path) -> int:
    return sum(f.stat().st_size for f in d.rglob("*") if f.is_file() and "hipsgen-state" not in f.parts)


def cpu_s(pid: int) -> float:
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def main():
    base = Path(tempfile.mkdtemp(prefix="ondemand-bench-"))
    syn = base / "syn"
    run(TARGET / "hipsgen", "synth", "--out", syn, "--bands", "g", "--patches", "9", "--patch-size", "2048")
    common = ["--input", syn / "g" / "*.fits", "--band", "g", "--tile-width", WIDTH, "--formats", "fits,png,jpeg"]
    run(TARGET / "hipsgen", "tiles", "--out", base / "full", *common)
    k = int(read_properties(base / "full")["hips_order"])
    run(TARGET / "hipsgen", "tiles", "--out", base / "srv" / "hips", "--order", k, "--stored-order", k - 2, *common)
    full, stored = size(base / "full"), size(base / "srv" / "hips")
    print(f"order K={k}: full run {full / 1e6:.2f} MB, --stored-order {k - 2}: {stored / 1e6:.2f} MB "
          f"({full / stored:.1f}x smaller)")
    cfg = base / "serve.toml"
    cfg.write_text(f'[on_demand]\ncoadd_roots = ["{syn}"]\n')
    with hipsserve_process(TARGET / "hipsserve", "--root", str(base / "srv"), "--listen", "127.0.0.1:0",
                           "--no-access-log", "--config", str(cfg)) as (url, proc):
        for order in (k - 2, k - 1, k):
            tiles = sorted(int(p.stem[4:]) for p in (base / "full" / f"Norder{order}").glob("Dir*/Npix*.png"))
            for label in ("cold", "warm"):
                times, c0 = [], cpu_s(proc.pid)
                for n in tiles:
                    t0 = time.perf_counter()
                    with urllib.request.urlopen(f"{url}/hips/Norder{order}/Dir{n // 10000 * 10000}/Npix{n}.png") as r:
                        r.read()
                    times.append((time.perf_counter() - t0) * 1e3)
                cpu = (cpu_s(proc.pid) - c0) * 1e3 / len(tiles)
                kind = "stored" if order <= k - 2 else "on demand"
                print(f"order {order} ({kind}) PNG {label}: {len(tiles)} tiles, p50 {np.percentile(times, 50):.1f} ms, "
                      f"p99 {np.percentile(times, 99):.1f} ms, server CPU {cpu:.1f} ms/tile")


if __name__ == "__main__":
    main()
