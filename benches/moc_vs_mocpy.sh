#!/usr/bin/env bash
# Side-by-side: moc-tools vs mocpy (CDS, PyPI) on the same work, in one run.
#  1. from-images: exact coverage of the valid pixels (finite, MASK without NO_DATA) of N LSST-like
#     4k x 4k patches (hipsgen synth: IMAGE/MASK/VARIANCE, TAN WCS, 0.2"/px, NO_DATA wedges) at order 13.
#     mocpy: astropy WCS of every valid pixel centre -> MOC.from_lonlat, per patch, then one union.
#  2. union of 1,000 MOC FITS files (random cones, orders 8-14), reading included; and the in-memory union alone.
# Both results are checked equal (ranges) before the times are printed.
# Usage: benches/moc_vs_mocpy.sh [SCRATCH_DIR] [N_PATCHES] [PATCH_SIZE]   (defaults /tmp/moc_bench 64 4096;
# 64 x 4096^2 patches take ~13 GB of disk in SCRATCH_DIR, deleted at the end unless KEEP=1)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SCRATCH="${1:-/tmp/moc_bench}"
N="${2:-64}"
SIZE="${3:-4096}"
ORDER=13
PY="${HIPS_PYTHON:-$ROOT/.venv/bin/python}"
cd "$ROOT"
cargo build --release -q -p moc-tools -p hipsgen
MT="$ROOT/target/release/moc-tools"
HG="$ROOT/target/release/hipsgen"
mkdir -p "$SCRATCH"
if [ ! -f "$SCRATCH/patches_${N}_${SIZE}.done" ]; then
  rm -rf "$SCRATCH/synth"
  "$HG" synth -o "$SCRATCH/synth" --bands r --patches "$N" --patch-size "$SIZE" --seed 7
  touch "$SCRATCH/patches_${N}_${SIZE}.done"
fi
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(du -sh "$SCRATCH/synth/r" | cut -f1) of patches"

timeit() { # label, command...: prints wall/user/sys seconds and max RSS
  local label="$1"; shift
  /usr/bin/time -f "$label: wall %e s, user %U s, sys %S s, max RSS %M KB" "$@"
}

echo "== from-images, $N patches of ${SIZE}x${SIZE}, order $ORDER"
# warm the page cache the same way for both tools
cat "$SCRATCH"/synth/r/*.fits > /dev/null
timeit "moc-tools from-images" "$MT" from-images "$SCRATCH"/synth/r/*.fits --order $ORDER -o "$SCRATCH/ours_images.fits"
cat "$SCRATCH"/synth/r/*.fits > /dev/null
timeit "mocpy from_lonlat" "$PY" - "$SCRATCH" $ORDER <<'PYEOF'
import glob, sys, numpy as np
from astropy.io import fits
from astropy.wcs import WCS
import astropy.units as u
from mocpy import MOC
import time
scratch, order = sys.argv[1], int(sys.argv[2])
t0 = time.perf_counter()
mocs = []
for f in sorted(glob.glob(f"{scratch}/synth/r/*.fits")):
    with fits.open(f, memmap=True) as hl:
        img = next(h for h in hl if (h.header.get("EXTNAME") or h.header.get("EXTTYPE") or "").strip() == "IMAGE")
        msk = next(h for h in hl if (h.header.get("EXTNAME") or h.header.get("EXTTYPE") or "").strip() == "MASK")
        bit = int(msk.header["MP_NO_DATA"])
        w = WCS(img.header).celestial
        h_, w_ = img.data.shape
        step = 512  # rows per chunk, bounds memory
        for y0 in range(0, h_, step):
            d = np.asarray(img.data[y0:y0 + step])
            m = np.asarray(msk.data[y0:y0 + step]).astype(np.int64)
            ys, xs = np.nonzero(np.isfinite(d) & ((m & (1 << bit)) == 0))
            if len(xs) == 0:
                continue
            lon, lat = w.all_pix2world(xs.astype(np.float64), (ys + y0).astype(np.float64), 0)
            mocs.append(MOC.from_lonlat(lon=lon * u.deg, lat=lat * u.deg, max_norder=order))
moc = mocs[0].union(*mocs[1:]) if len(mocs) > 1 else mocs[0]
moc.save(f"{scratch}/mocpy_images.fits", format="fits", overwrite=True)
print(f"mocpy from-images in-process (imports excluded): {time.perf_counter() - t0:.2f} s")
PYEOF
"$PY" - "$SCRATCH" <<'PYEOF'
import sys
from mocpy import MOC
s = sys.argv[1]
a, b = MOC.from_fits(f"{s}/ours_images.fits"), MOC.from_fits(f"{s}/mocpy_images.fits")
same = (a.to_depth29_ranges.tolist() == b.to_depth29_ranges.tolist()) and a.max_order == b.max_order
print(f"from-images results equal: {same} (sky fraction {a.sky_fraction:.6e}, {len(a.to_depth29_ranges)} ranges)")
sys.exit(0 if same else 1)
PYEOF

echo "== union of 1000 MOCs"
rm -rf "$SCRATCH/mocs" && mkdir -p "$SCRATCH/mocs"
"$PY" - "$SCRATCH/mocs" <<'PYEOF'
import sys, numpy as np, astropy.units as u
from mocpy import MOC
rng = np.random.default_rng(42)
for i in range(1000):
    lon, lat = rng.uniform(140, 160), rng.uniform(-10, 10)
    m = MOC.from_cone(lon=lon * u.deg, lat=lat * u.deg, radius=rng.uniform(0.05, 1.0) * u.deg,
                      max_depth=int(rng.integers(8, 15)))
    m.save(f"{sys.argv[1]}/m{i:04d}.fits", format="fits", overwrite=True)
PYEOF
timeit "moc-tools union (1000 files)" "$MT" union "$SCRATCH"/mocs/*.fits -o "$SCRATCH/ours_union.fits"
timeit "mocpy union (1000 files)" "$PY" - "$SCRATCH" <<'PYEOF'
import glob, sys, time
from mocpy import MOC
s = sys.argv[1]
t0 = time.perf_counter()
mocs = [MOC.from_fits(f) for f in sorted(glob.glob(f"{s}/mocs/*.fits"))]
t1 = time.perf_counter()
u = mocs[0].union(*mocs[1:])
t2 = time.perf_counter()
u.save(f"{s}/mocpy_union.fits", format="fits", overwrite=True)
print(f"mocpy: read {t1 - t0:.3f} s, in-memory union of {len(mocs)} MOCs {t2 - t1:.4f} s")
ours = MOC.from_fits(f"{s}/ours_union.fits")
same = ours.to_depth29_ranges.tolist() == u.to_depth29_ranges.tolist()
print(f"union results equal: {same}")
sys.exit(0 if same else 1)
PYEOF
[ "${KEEP:-0}" = 1 ] || rm -rf "$SCRATCH/synth" "$SCRATCH/patches_${N}_${SIZE}.done"
