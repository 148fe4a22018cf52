#!/usr/bin/env bash
# hipsserve on a release root (`hipsgen release` layout) vs nginx on the same release's files, cold tiles, one run.
#
# Data: the cold workload of serve_vs_nginx.sh (4096 distinct order-9 tiles, hard links to one real 140 KB PNG tile of
# the CFHT reference HiPS) laid out as release r1 of a release root: OUT/r1/synthetic/..., OUT/r1/manifest.json (every
# object with its size and XXH3-64, as `hipsgen release` writes it), OUT/current = r1. hipsserve serves OUT (the
# tiles at /synthetic/... from the current release, ETags from the manifest) with its object cache disabled, so every
# request reads the file system; nginx serves OUT/r1 (the same paths), sendfile and open_file_cache on.
#
# Usage: benches/serve_release_vs_nginx.sh [DURATION_SECONDS]   (needs wrk and nginx; SKIP_BUILD=1 to use the current
#        target/release/hipsserve). Prints a markdown table; logs go to $WORK.
set -euo pipefail

DURATION=${1:-8}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REF=${REF_HIPS:-$ROOT/../shared/data/reference_hips}
WORK=$(mktemp -d /tmp/serve_release_vs_nginx.XXXXXX)
chmod 755 "$WORK"
. "$(dirname "$0")/serve_common.sh"

[ -n "${SKIP_BUILD:-}" ] || (cd "$ROOT" && cargo build --release -p hipsserve >&2)
BIN=$ROOT/target/release/hipsserve

OUT=$WORK/out
mkdir -p "$OUT/r1"
cp -r "$REF/CFHT" "$WORK/"
write_cold_data "$WORK"
mv "$WORK/synthetic" "$OUT/r1/"
# The manifest: every tile is the same file, so one size and one digest (XXH3-64 of the tile).
python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
rel = os.path.join(out, "r1")
# XXH3-64 is not in Python's standard library; the digest only has to be 16 hex digits for this benchmark (hipsserve
# sends it as the ETag, it never recomputes it), so a stand-in derived from the size is used.
objs = []
for d, _, files in os.walk(rel):
    for f in files:
        p = os.path.join(d, f)
        k = os.path.relpath(p, rel)
        objs.append({"key": k, "size": os.path.getsize(p), "xxh3": "%016x" % os.path.getsize(p)})
objs.sort(key=lambda e: e["key"])
json.dump({"release": "r1", "objects": objs}, open(os.path.join(rel, "manifest.json"), "w"))
open(os.path.join(out, "current"), "w").write("r1\n")
PY
chmod -R a+rX "$OUT"
write_cold_lua "$WORK/cold.lua"
start_nginx "$WORK/nginx" "$OUT/r1"

RUST_LOG=warn "$BIN" --root "$OUT" --listen 127.0.0.1:0 --no-access-log --cache-bytes 0 ${HS_ARGS:-} \
  >"$WORK/hs.out" 2>"$WORK/hs.err" &
PIDS+=($!)
for _ in $(seq 100); do grep -q listening "$WORK/hs.out" 2>/dev/null && break; sleep 0.1; done
HS_ADDR=$(sed -n 's/.*http:\/\///p' "$WORK/hs.out")
sleep 0.5
p=/synthetic/Norder9/Dir1000000/Npix1000007.png
cmp <(curl -sf "http://$HS_ADDR$p") <(curl -sf "http://127.0.0.1:$NPORT$p") || { echo "mismatch on $p" >&2; exit 1; }
curl -sfI "http://$HS_ADDR/r1$p" | grep -qi immutable || { echo "no immutable Cache-Control on /r1$p" >&2; exit 1; }

run_wrk() { # url script conns -> "rps p50 p99"
  local t=2; [ "$3" -lt 2 ] && t=1
  local out
  out=$(wrk -t$t -c"$3" -d"${DURATION}s" --latency -s "$2" "$1" 2>&1)
  echo "$out" >> "$WORK/wrk.log"
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(echo "$out" | awk '$1=="50%" {print $2}') $(echo "$out" | awk '$1=="99%" {print $2}')"
}

echo "| workload | conns | server | req/s | p50 | p99 |"
echo "|---|---:|---|---:|---:|---:|"
for c in 1 64 256; do
  for srv in hipsserve nginx; do
    if [ $srv = hipsserve ]; then url="http://$HS_ADDR"; else url="http://127.0.0.1:$NPORT"; fi
    read -r rps p50 p99 < <(run_wrk "$url" "$WORK/cold.lua" "$c")
    echo "| release cold | $c | $srv | $rps | $p50 | $p99 |"
  done
done
echo "raw wrk output: $WORK/wrk.log" >&2
