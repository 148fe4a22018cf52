#!/usr/bin/env bash
# Tile-compressed inputs: (1) whole-image decoding throughput per core, ours (`benches/benches/decompress.rs`,
# hips_core::fits::read_image_f32 with the tile cache off) against astropy 8 (`CompImageHDU.data`, cfitsio's C
# decoders), same files, median of 5; (2) `hipsgen tiles` on a RICE_1 (SUBTRACTIVE_DITHER_1) copy against the
# uncompressed file, same invocation.
#
# Usage: benches/compressed_vs_astropy.sh [SIZE]   (default 4096: a SIZE^2 float32 image, Spitzer data tiled + noise)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-4096}
WORK=${BENCH_WORK:-$(mktemp -d /tmp/compbench.XXXX)}
PY=${HIPS_PYTHON:-.venv/bin/python}
DATA=${HIPS_SHARED_DATA:-../shared/data}
cargo build --release -p hipsgen --quiet
cargo bench -p hips-benches --bench decompress --no-run --quiet 2>/dev/null
BENCH=$(ls -t target/release/deps/decompress-* | grep -v '\.d$' | head -1)
BIN=target/release/hipsgen
mkdir -p "$WORK"
. benches/common.sh
"$PY" - "$DATA" "$WORK" "$SIZE" <<'PYEOF'
import sys
import numpy as np
from astropy.io import fits
data, work, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with fits.open(f"{data}/single_band/spitzer_example_image.fits") as f:
    h, d = f[0].header.copy(), f[0].data
img = np.resize(np.nan_to_num(d), (n, n)).astype(np.float32)
img += np.random.default_rng(1).normal(0, 0.5, img.shape).astype(np.float32)
for k in ("SIMPLE", "EXTEND"):
    h.remove(k, ignore_missing=True)
h["NAXIS1"], h["NAXIS2"] = n, n
fits.PrimaryHDU(img, h).writeto(f"{work}/plain.fits", overwrite=True)
for name, kw in {"rice_d1": dict(compression_type="RICE_1", quantize_method=1),
                 "gzip2_d1": dict(compression_type="GZIP_2", quantize_method=1),
                 "gzip2_lossless": dict(compression_type="GZIP_2", quantize_level=0.0)}.items():
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(img, h, **kw)]).writeto(f"{work}/{name}.fits", overwrite=True)
i16 = (np.resize(np.nan_to_num(d), (n, n)) * 50).clip(-32000, 32000).astype(np.int16)
fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(i16, compression_type="RICE_1")]).writeto(f"{work}/rice_int16.fits", overwrite=True)
fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(i16, compression_type="PLIO_1")]).writeto(f"{work}/plio_int16.fits", overwrite=True) if i16.min() >= 0 else None
PYEOF
echo "input: ${SIZE}x${SIZE} pixels, work dir $WORK, $(nproc) cores; MB/s of decoded 32-bit pixels, one thread"
for f in rice_d1 gzip2_d1 gzip2_lossless rice_int16; do
  ours=$(HIPS_TILE_CACHE_MB=0 HIPS_BENCH_FITS="$WORK/$f.fits" "$BENCH")
  theirs=$(OMP_NUM_THREADS=1 "$PY" - "$WORK/$f.fits" <<'PYEOF'
import sys, time
from astropy.io import fits
ts = []
for _ in range(5):
    t = time.perf_counter()
    with fits.open(sys.argv[1]) as f:
        d = f[1].data
        n = d.size
    ts.append(time.perf_counter() - t)
ts.sort()
print(f"astropy {ts[2]:.4f} s {n * 4 / ts[2] / 1e6:.1f} MB/s")
PYEOF
)
  echo "$f ($(stat -c %s "$WORK/$f.fits") bytes): $ours | $theirs"
done
rm -rf "$WORK/out_plain" "$WORK/out_rice"
mkdir -p "$WORK/in_plain" "$WORK/in_rice"
ln -sf "$WORK/plain.fits" "$WORK/in_plain/img.fits"
ln -sf "$WORK/rice_d1.fits" "$WORK/in_rice/img.fits"
# Three alternating runs of each; wall and CPU (user + sys) seconds, medians compared (other jobs share the machine,
# so CPU time is the steadier measure).
cpu_run() {
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/$1.time" "${@:2}" >"$WORK/$1.log" 2>&1 || { tail -20 "$WORK/$1.log"; exit 1; }
  read -r w u s kb <"$WORK/$1.time"
  echo "$1: wall $w s, user $u s, sys $s s, peak RSS $((kb / 1024)) MiB"
  echo "$w $u $s" >>"$WORK/${1%[0-9]}.all"
}
rm -f "$WORK/plain.all" "$WORK/rice.all"
for k in 1 2 3; do
  rm -rf "$WORK/out_plain" "$WORK/out_rice"
  cpu_run plain$k "$BIN" tiles --input "$WORK/in_plain/img.fits" --out "$WORK/out_plain" --formats fits
  cpu_run rice$k "$BIN" tiles --input "$WORK/in_rice/img.fits" --out "$WORK/out_rice" --formats fits
done
"$PY" - "$WORK" <<'PYEOF'
import statistics as s, sys
def med(name, cpu):
    rows = [[float(x) for x in l.split()] for l in open(f"{sys.argv[1]}/{name}.all")]
    return s.median(r[1] + r[2] if cpu else r[0] for r in rows)
for cpu, what in ((False, "wall"), (True, "cpu (user + sys)")):
    p, r = med("plain", cpu), med("rice", cpu)
    print(f"hipsgen tiles median {what}: uncompressed {p:.2f} s, RICE_1 copy {r:.2f} s, ratio {r / p:.2f}x")
PYEOF
