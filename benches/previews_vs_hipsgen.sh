#!/usr/bin/env bash
# Side-by-side: our `hipsgen previews` vs CDS Hipsgen's PNG action (Debian package aladin) on the same FITS HiPS,
# PNG only, in one run. Reports wall-clock seconds, peak RSS, tile counts and the ratio.
#
# Usage: benches/previews_vs_hipsgen.sh [PATCHES] [PATCH_SIZE] [ORDER]   (default 16 4096 12: the issue's reference set)
# The FITS HiPS is built once by CDS Hipsgen (`INDEX TILES`) from the same input as benches/tiles_vs_hipsgen.sh
# (reused when BENCH_WORK points at a work dir that already holds it); each tool then works on its own copy.
# Set HIPSGEN_FITS_HIPS=DIR to benchmark on an existing FITS HiPS instead.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh
reference_args "$@"
BIN=${HIPSGEN_BIN:-target/release/hipsgen}

if [ -n "${HIPSGEN_FITS_HIPS:-}" ]; then
  SRC=$HIPSGEN_FITS_HIPS
else
  make_single_inputs "$PATCHES" "$SIZE"
  SRC=$WORK/cds
  if [ ! -f "$SRC/properties" ]; then
    echo "building the FITS HiPS with CDS Hipsgen (INDEX TILES) ..."
    java -Xmx8g -cp /usr/share/java/aladin.jar cds.allsky.HipsGen in="$WORK/single" out="$SRC" \
      order="$ORDER" creator_did=ivo://bench/P/cds INDEX TILES >"$WORK/cds_tiles.log" 2>&1
  fi
fi
n_fits=$(find "$SRC" -path '*Norder*' -name 'Npix*.fits' | wc -l)
echo "FITS HiPS $SRC: $n_fits tiles ($(du -sh "$SRC" | cut -f1)), $(nproc) cores, work dir $WORK"

rm -rf "$WORK/prev_ours" "$WORK/prev_cds"
cp -r "$SRC" "$WORK/prev_ours"
cp -r "$SRC" "$WORK/prev_cds"
measure ours "$BIN" previews "$WORK/prev_ours" --formats png
measure cds java -Xmx8g -cp /usr/share/java/aladin.jar cds.allsky.HipsGen in="$WORK/prev_cds" out="$WORK/prev_cds" PNG
ours_png=$(find "$WORK/prev_ours" -path '*Norder*' -name '*.png' | wc -l)
cds_png=$(find "$WORK/prev_cds" -path '*Norder*' -name '*.png' | wc -l)
echo "PNG files: ours $ours_png ($(du -sh --apparent-size "$WORK/prev_ours" | cut -f1) HiPS), Hipsgen $cds_png ($(du -sh --apparent-size "$WORK/prev_cds" | cut -f1) HiPS)"
"$PY" -c "print(f'speed-up (Hipsgen wall / ours wall): {float($cds_secs)/float($ours_secs):.1f}x; peak RSS ours/Hipsgen: {$ours_kb/$cds_kb:.2f}')"
# Each copy is as large as the FITS HiPS: free them before the next pair (KEEP=1 keeps them for inspection).
[ "${KEEP:-0}" = 1 ] || rm -rf "$WORK/prev_ours" "$WORK/prev_cds"
if [ "${JPEG:-1}" = 1 ]; then
  rm -rf "$WORK/prev_ours_jpg" "$WORK/prev_cds_jpg"
  cp -r "$SRC" "$WORK/prev_ours_jpg"
  cp -r "$SRC" "$WORK/prev_cds_jpg"
  measure ours_jpeg "$BIN" previews "$WORK/prev_ours_jpg" --formats jpeg
  measure cds_jpeg java -Xmx8g -cp /usr/share/java/aladin.jar cds.allsky.HipsGen in="$WORK/prev_cds_jpg" out="$WORK/prev_cds_jpg" JPEG
  "$PY" -c "print(f'JPEG speed-up (Hipsgen wall / ours wall): {float($cds_jpeg_secs)/float($ours_jpeg_secs):.1f}x')"
  [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK/prev_ours_jpg" "$WORK/prev_cds_jpg"
fi
