#!/usr/bin/env bash
# Side-by-side: our `hipsgen tiles` vs CDS Hipsgen (`INDEX TILES`, Debian package aladin) on the same input, at the
# same order, in one run. Reports wall-clock seconds, peak RSS and the ratio.
#
# Usage: benches/tiles_vs_hipsgen.sh [PATCHES] [PATCH_SIZE] [ORDER]   (default 16 4096 12: the issue's reference set)
# Input: PATCHES single-HDU float32 images of PATCH_SIZE^2 at 0.2"/px (the IMAGE planes of `hipsgen synth` patches).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh
reference_args "$@"
BIN=target/release/hipsgen
make_single_inputs "$PATCHES" "$SIZE"
nproc_=$(nproc)
echo "input: $PATCHES x ${SIZE}^2 float32 at 0.2\"/px, order $ORDER, $nproc_ cores, work dir $WORK"

rm -rf "$WORK/ours" "$WORK/cds"
measure ours "$BIN" tiles --input "$WORK/single" --out "$WORK/ours" --order "$ORDER" --formats fits
measure cds java -Xmx8g -cp /usr/share/java/aladin.jar cds.allsky.HipsGen in="$WORK/single" out="$WORK/cds" \
  order="$ORDER" creator_did=ivo://bench/P/cds INDEX TILES
ours_tiles=$(find "$WORK/ours" -path '*Norder*' -name '*.fits' | wc -l)
cds_tiles=$(find "$WORK/cds" -path '*Norder*' -name '*.fits' | wc -l)
echo "tiles: ours $ours_tiles, Hipsgen $cds_tiles"
"$PY" -c "print(f'speed-up (Hipsgen wall / ours wall): {float($cds_secs)/float($ours_secs):.1f}x; peak RSS ours/Hipsgen: {$ours_kb/$cds_kb:.2f}')"
