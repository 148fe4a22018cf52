# Shared pieces of the side-by-side scripts (sourced, not run): the reference input and the measurement.
# The functions other than reference_args expect WORK, BIN (our release hipsgen) and PY (a Python with astropy).

# reference_args [PATCHES] [PATCH_SIZE] [ORDER]: sets PATCHES, SIZE and ORDER (default 16 4096 12, the issue's
# reference set), WORK (BENCH_WORK, else a fresh /tmp directory, created) and PY (HIPS_PYTHON, else the venv's), and
# builds the release hipsgen.
reference_args() {
  PATCHES=${1:-16}
  SIZE=${2:-4096}
  ORDER=${3:-12}
  WORK=${BENCH_WORK:-$(mktemp -d /tmp/hipsbench.XXXX)}
  PY=${HIPS_PYTHON:-.venv/bin/python}
  cargo build --release -p hipsgen --quiet
  mkdir -p "$WORK"
}

# make_single_inputs PATCHES SIZE: $WORK/single holds PATCHES single-HDU float32 images of SIZE^2 at 0.2"/px
# (the IMAGE planes of `hipsgen synth` patches, as CDS Hipsgen reads the first HDU), made once per work dir.
make_single_inputs() {
  local patches=$1 size=$2
  [ -d "$WORK/single" ] && return 0
  "$BIN" synth --out "$WORK/synth" --bands r --patches "$patches" --patch-size "$size" --seed 7 >/dev/null
  mkdir -p "$WORK/single"
  "$PY" - "$WORK/synth/r" "$WORK/single" <<'PY'
import sys, pathlib
from astropy.io import fits
src, dst = map(pathlib.Path, sys.argv[1:])
for f in sorted(src.glob("*.fits")):
    with fits.open(f) as hl:
        img = hl["IMAGE"]
        fits.PrimaryHDU(img.data.astype("float32"), img.header).writeto(dst / f.name, overwrite=True)
PY
}

# measure NAME COMMAND...: runs the command, prints wall seconds and peak RSS, sets NAME_secs and NAME_kb.
# The page cache is flushed first (`sync`), so neither tool pays for the other's (or a copy's) dirty pages.
measure() {
  local name=$1; shift
  sync
  /usr/bin/time -f "%e %M" -o "$WORK/$name.time" "$@" >"$WORK/$name.log" 2>&1 || { echo "$name failed:"; tail -20 "$WORK/$name.log"; exit 1; }
  read -r secs kb <"$WORK/$name.time"
  echo "$name: ${secs} s, peak RSS $((kb / 1024)) MiB"
  eval "${name}_secs=$secs; ${name}_kb=$kb"
}
