#!/usr/bin/env bash
# Latency of hipsserve's on-demand tiles: a HiPS of PATCHES synthetic 1024-px coadds (`hipsgen synth` + `hipsgen
# tiles`, 512-px tiles) served with on_demand_orders = 1; every order K+1 FITS tile under the stored order-K tiles is
# requested once (rendered from the coadds) and then again (cache hit), one at a time with curl. Prints the median and
# 90th percentile of each, and hipsgen's own time per deepest tile for the same coadds one order deeper (`--order K+1`,
# all CPUs) for comparison.
#
# Usage: benches/ondemand_latency.sh [PATCHES]   (needs target/release/{hipsgen,hipsserve}; SKIP_BUILD=1 skips the build)
set -euo pipefail
PATCHES=${1:-4}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/ondemand.XXXXXX)
[ -n "${SKIP_BUILD:-}" ] || (cd "$ROOT" && cargo build --release -p hipsgen -p hipsserve >&2)
HG=$ROOT/target/release/hipsgen
HS=$ROOT/target/release/hipsserve
"$HG" synth --out "$W/syn" --bands g --patches "$PATCHES" --patch-size 1024 >/dev/null 2>&1
"$HG" tiles --input "$W/syn/g/*.fits" --out "$W/srv/hips" --band g >/dev/null 2>&1
K=$(sed -n 's/^hips_order *= *//p' "$W/srv/hips/properties")
printf '[defaults]\non_demand_orders = 1\n[on_demand]\ncoadd_roots = ["%s"]\n' "$W/syn" > "$W/hs.toml"
RUST_LOG=warn "$HS" --root "$W/srv" --listen 127.0.0.1:0 --no-access-log --config "$W/hs.toml" >"$W/hs.out" 2>"$W/hs.err" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q listening "$W/hs.out" 2>/dev/null && break; sleep 0.1; done
ADDR=$(sed -n 's/.*http:\/\///p' "$W/hs.out")
: > "$W/first"; : > "$W/again"
for f in "$W"/srv/hips/Norder"$K"/Dir*/Npix*.fits; do
  n=$(basename "$f" .fits); n=${n#Npix}
  for q in 0 1 2 3; do
    c=$((n * 4 + q)); url="http://$ADDR/hips/Norder$((K + 1))/Dir$((c / 10000 * 10000))/Npix$c.fits"
    curl -s -o /dev/null -w "%{http_code} %{time_total}\n" "$url" >> "$W/first"
    curl -s -o /dev/null -w "%{http_code} %{time_total}\n" "$url" >> "$W/again"
  done
done
stats() { awk '$1 == 200 {print $2 * 1000}' "$1" | sort -n | awk '{a[NR]=$1} END {if (NR) printf "%d tiles, median %.1f ms, p90 %.1f ms", NR, a[int((NR+1)/2)], a[int(NR*0.9+0.5)]; else printf "no tiles"}'; }
echo "order $((K + 1)) on demand, first request (render): $(stats "$W/first")"
echo "order $((K + 1)) on demand, second request (cache):  $(stats "$W/again")"
start=$(date +%s.%N)
"$HG" tiles --input "$W/syn/g/*.fits" --out "$W/deep" --band g --order $((K + 1)) --formats fits >/dev/null 2>&1
end=$(date +%s.%N)
deep=$(find "$W/deep/Norder$((K + 1))" -name 'Npix*.fits' | wc -l)
awk -v s="$start" -v e="$end" -v n="$deep" -v c="$(nproc)" 'BEGIN {printf "hipsgen --order %s: %d deepest tiles (whole pyramid) in %.2f s on %d CPUs = %.1f ms per deepest tile\n", "K+1", n, e - s, c, (e - s) * 1000 / n}'
echo "work dir: $W" >&2
