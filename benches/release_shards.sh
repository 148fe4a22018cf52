#!/usr/bin/env bash
# Release throughput with 1 and 2 shards at once (issue #16): one band of synthetic coadds (16 patches of 1024 px at
# 20"/px, ~12 order-3 subtrees, order 5 with 512-px tiles), 2 shards of one thread each, run one after the other
# ("1 at once") and side by side ("2 at once"), 3 rounds interleaved; then finalize. Prints deepest tiles, wall
# seconds and tiles/s per round, and the measured kernel cost from `release plan`.
# Usage: flock -x /tmp/cpu.lock benches/release_shards.sh [HIPSGEN_BINARY]
set -euo pipefail
H=${1:-$(dirname "$0")/../target/debug/hipsgen}
H=$(realpath "$H")
W=$(mktemp -d /tmp/release-bench.XXXX)
trap 'rm -rf "$W"' EXIT
"$H" synth -o "$W/coadds" --bands g --patches 16 --patch-size 1024 --pixel-scale 20 --overlap 50 >/dev/null 2>&1
cfg() { # $1 out
  printf '[release]\nid = "b"\nout = "%s"\nauthority = "ivo://bench/P"\npublic_url = "http://x"\ntitle = "B"\nshards = 2\n[hips.g]\ninput = ["%s/coadds/g"]\nband = "g"\ntile_width = 512\nthreads = 1\norder = 5\nno_progenitors = true\n' "$1" "$W"
}
cfg "$W/plan" > "$W/plan.toml"
"$H" release plan --config "$W/plan.toml" | tail -1
now() { date +%s.%N; }
for round in 1 2 3; do
  for mode in seq par; do
    out="$W/out-$mode-$round"; cfg "$out" > "$W/$mode.toml"
    t0=$(now)
    if [ "$mode" = seq ]; then
      "$H" release shard --hips g --index 0 --config "$W/$mode.toml" >/dev/null
      "$H" release shard --hips g --index 1 --config "$W/$mode.toml" >/dev/null
    else
      "$H" release shard --hips g --index 0 --config "$W/$mode.toml" >/dev/null &
      "$H" release shard --hips g --index 1 --config "$W/$mode.toml" >/dev/null &
      wait
    fi
    t1=$(now)
    "$H" release finalize --hips g --config "$W/$mode.toml" >/dev/null
    t2=$(now)
    tiles=$(find "$out/b/g/Norder5" -name '*.fits' | wc -l)
    echo "round $round mode $mode deepest_tiles $tiles shards_s $(echo "$t1 - $t0" | bc) finalize_s $(echo "$t2 - $t1" | bc) tiles_per_s $(echo "scale=2; $tiles / ($t1 - $t0)" | bc)"
    rm -rf "$out"
  done
done
