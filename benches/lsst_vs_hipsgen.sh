#!/usr/bin/env bash
# Same-run A/B on LSST-like coadds: `hipsgen tiles` and `hipsgen tiles --formats fits,png` of a baseline and a new
# binary against CDS Hipsgen's `INDEX TILES` and `INDEX TILES PNG` (Debian package aladin), interleaved, RUNS rounds.
# Input: PATCHES synthetic PATCH_SIZE^2 patches with IMAGE/MASK/VARIANCE (`hipsgen synth --bands r --seed 7`), all
# at ORDER. Prints every run (wall, user, sys seconds, peak RSS) and the medians with the ratios.
#
# Usage: BASE_BIN=/tmp/hg_base benches/lsst_vs_hipsgen.sh [RUNS] [PATCHES] [PATCH_SIZE] [ORDER]   (default 5 9 2000 11)
# NEW_BIN defaults to target/release/hipsgen (built first unless SKIP_BUILD=1); WORK to a fresh /tmp directory.
# Wrap it in `flock -x /tmp/cpu.lock` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
PATCHES=${2:-9}
SIZE=${3:-2000}
ORDER=${4:-11}
WORK=${BENCH_WORK:-$(mktemp -d /tmp/lsstbench.XXXX)}
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release -p hipsgen --quiet
NEW=${NEW_BIN:-target/release/hipsgen}
BASE=${BASE_BIN:-$NEW}
CDS=(java -Xmx8g -cp /usr/share/java/aladin.jar cds.allsky.HipsGen)
mkdir -p "$WORK"
[ -d "$WORK/synth/r" ] || "$NEW" synth --out "$WORK/synth" --bands r --patches "$PATCHES" --patch-size "$SIZE" --seed 7 >/dev/null
IN=$WORK/synth/r
echo "input: $PATCHES x ${SIZE}^2 IMAGE/MASK/VARIANCE patches at 0.2\"/px, order $ORDER, $(nproc) cores, work dir $WORK"
echo "base $BASE, new $NEW"

# run NAME COMMAND...: one timed run into $WORK/out (removed before and after), appended to $WORK/NAME.runs.
run() {
  local name=$1; shift
  rm -rf "$WORK/out"
  sync
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/$name.time" "$@" >"$WORK/$name.log" 2>&1 || { echo "$name failed:"; tail -20 "$WORK/$name.log"; exit 1; }
  cat "$WORK/$name.time" >>"$WORK/$name.runs"
  read -r e u s m <"$WORK/$name.time"
  printf '%-10s wall %6.2f s  user %6.2f s  sys %5.2f s  peak RSS %5d MiB  (%s files)\n' "$name" "$e" "$u" "$s" "$((m / 1024))" \
    "$(find "$WORK/out" -type f | wc -l)"
  rm -rf "$WORK/out"
}

rm -f "$WORK"/*.runs
for i in $(seq 1 "$RUNS"); do
  echo "== round $i"
  run base_fits "$BASE" tiles --input "$IN" --out "$WORK/out" --order "$ORDER" --formats fits
  run new_fits "$NEW" tiles --input "$IN" --out "$WORK/out" --order "$ORDER" --formats fits
  run cds_fits "${CDS[@]}" in="$IN" out="$WORK/out" order="$ORDER" creator_did=ivo://bench/P/cds INDEX TILES
  run base_png "$BASE" tiles --input "$IN" --out "$WORK/out" --order "$ORDER" --formats fits,png
  run new_png "$NEW" tiles --input "$IN" --out "$WORK/out" --order "$ORDER" --formats fits,png
  run cds_png "${CDS[@]}" in="$IN" out="$WORK/out" order="$ORDER" creator_did=ivo://bench/P/cds INDEX TILES PNG
done
python3 - "$WORK" <<'PY'
import statistics, sys, pathlib
w = pathlib.Path(sys.argv[1])
med = {}
for n in ["base_fits", "new_fits", "cds_fits", "base_png", "new_png", "cds_png"]:
    rows = [list(map(float, l.split())) for l in (w / f"{n}.runs").read_text().split("\n") if l.strip()]
    med[n] = [statistics.median(r[0] for r in rows), statistics.median(r[1] + r[2] for r in rows),
              statistics.median(r[3] for r in rows)]
    e, c, m = med[n]
    print(f"median {n:10s} wall {e:6.2f} s  CPU (user + sys) {c:6.2f} s  peak RSS {m / 1024:5.0f} MiB  ({len(rows)} runs)")
for kind in ["fits", "png"]:
    for i, what in [(0, "wall"), (1, "CPU")]:
        c = med[f"cds_{kind}"][i]
        print(f"{kind} {what}: Hipsgen / base {c / med[f'base_{kind}'][i]:.1f}x, Hipsgen / new {c / med[f'new_{kind}'][i]:.1f}x")
PY
