#!/usr/bin/env bash
# Same-input A/B of hipsgen binaries (e.g. before/after a change), alternating runs so that drift hits both alike.
# Prints wall, user and sys seconds and peak RSS of every run.
#
# Usage: benches/ab.sh tiles INPUT_DIR BIN...      (each run writes a fresh $WORK/ab_out, --order 12, FITS only)
#        benches/ab.sh previews FITS_HIPS BIN...   (each run rewrites the PNG previews of the same HiPS copy)
# ROUNDS (default 2) sets the number of alternations; run it under `flock -x /tmp/cpu.lock` on a shared machine.
set -euo pipefail
mode=$1 src=$2; shift 2
WORK=${BENCH_WORK:-/tmp}
for _ in $(seq "${ROUNDS:-2}"); do
  for bin in "$@"; do
    case $mode in
      tiles) rm -rf "$WORK/ab_out"; sync
        /usr/bin/time -f "$bin %e s wall %U user %S sys %M KB" "$bin" tiles --input "$src" --out "$WORK/ab_out" \
          --order 12 --formats fits 2>&1 >/dev/null | tail -1 ;;
      previews) sync
        /usr/bin/time -f "$bin %e s wall %U user %S sys %M KB" "$bin" previews "$src" --formats png 2>&1 >/dev/null \
          | tail -1 ;;
      *) echo "usage: $0 tiles|previews SRC BIN..." >&2; exit 2 ;;
    esac
  done
done
rm -rf "$WORK/ab_out"
