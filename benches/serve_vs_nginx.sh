#!/usr/bin/env bash
# hipsserve vs nginx on loopback, same directory, same load generator (wrk), in one run.
#
# Workloads (each at 1, 64 and 256 connections, DURATION seconds):
#   hot   - 8 real tiles/Allsky files of the CDS-built reference HiPS, requested round-robin (in hipsserve's cache).
#   cold  - 4096 distinct tile paths of a synthetic HiPS (hard links to one real 140 KB PNG tile) requested at random;
#           hipsserve runs with its object cache disabled for this workload, so every request reads storage
#           (the local file system), like nginx does.
#   404   - random order-5 tiles of the CFHT HiPS outside its coverage (hipsserve answers from the MOC; nginx stats).
#
# Servers: nginx with 2 worker processes, sendfile and open_file_cache; hipsserve with its defaults (one single-threaded
# worker per CPU, each with its own SO_REUSEPORT socket; cached bodies >= 4 KiB sent with sendfile) and a spool
# directory on the same disk as the data (--spool-dir: the copies it sends from are files there, as nginx's are;
# SPOOL=0 keeps them in memfds). HS_ARGS adds hipsserve flags (e.g. HS_ARGS="--workers 0" for the work-stealing
# runtime).
#
# Usage: benches/serve_vs_nginx.sh [DURATION_SECONDS]   (needs wrk and nginx; builds hipsserve --release unless
#        SKIP_BUILD=1 and target/release/hipsserve is current)
# Prints a markdown table on stdout; logs go to $WORK.
set -euo pipefail

DURATION=${1:-8}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REF=${REF_HIPS:-$ROOT/../shared/data/reference_hips}
WORK=$(mktemp -d /tmp/serve_vs_nginx.XXXXXX)
chmod 755 "$WORK"  # nginx workers (user nobody when started as root) must read the data
. "$(dirname "$0")/serve_common.sh"

[ -n "${SKIP_BUILD:-}" ] || (cd "$ROOT" && cargo build --release -p hipsserve >&2)
BIN=$ROOT/target/release/hipsserve

# --- data: the reference HiPS plus a synthetic one with 4096 distinct tiles (hard links, no extra disk) ---
DATA=$WORK/data
mkdir -p "$DATA"
cp -r "$REF/CFHT" "$REF/JWST_MIRI" "$DATA/"
write_cold_data "$DATA"
chmod -R a+rX "$DATA"

# --- wrk scripts ---
write_hot_lua "$WORK/hot.lua"
write_cold_lua "$WORK/cold.lua"
cat > "$WORK/404.lua" <<'EOF'
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  local n = math.random(0, 3000)
  return wrk.format("GET", string.format("/CFHT/Norder5/Dir0/Npix%d.png", n))
end
EOF

start_nginx "$WORK/nginx" "$DATA"

start_hipsserve() { # $1 = cache bytes
  local spool=()
  if [ "${SPOOL:-1}" = 1 ]; then mkdir -p "$WORK/spool"; spool=(--spool-dir "$WORK/spool"); fi
  RUST_LOG=warn "$BIN" --root "$DATA" --listen 127.0.0.1:0 --no-access-log --cache-bytes "$1" "${spool[@]}" ${HS_ARGS:-} \
    >"$WORK/hs.out" 2>"$WORK/hs.err" &
  HS_PID=$!
  PIDS+=($HS_PID)
  for _ in $(seq 100); do grep -q listening "$WORK/hs.out" 2>/dev/null && break; sleep 0.1; done
  HS_ADDR=$(sed -n 's/.*http:\/\///p' "$WORK/hs.out")
}
stop_hipsserve() { kill -TERM "$HS_PID"; wait "$HS_PID" 2>/dev/null || true; }

sleep 0.5
# Check both answer the same bytes before measuring.
start_hipsserve 268435456
for p in /CFHT/Norder5/Dir0/Npix3380.png /synthetic/Norder9/Dir1000000/Npix1000007.png; do
  cmp <(curl -sf "http://$HS_ADDR$p") <(curl -sf "http://127.0.0.1:$NPORT$p") || { echo "mismatch on $p" >&2; exit 1; }
done

# wrk output -> "rps p50 p99 errors non2xx"
run_wrk() { # url script conns
  local t=2; [ "$3" -lt 2 ] && t=1
  local out
  out=$(wrk -t$t -c"$3" -d"${DURATION}s" --latency -s "$2" "$1" 2>&1)
  echo "$out" >> "$WORK/wrk.log"
  local rps p50 p99 err non2xx
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  err=$(echo "$out" | awk '/Socket errors/ {gsub(",","");s=0; for(i=1;i<=NF;i++) if ($i ~ /^[0-9]+$/) s+=$i; print s}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  echo "$rps ${p50:-?} ${p99:-?} ${err:-0} ${non2xx:-0}"
}

echo "| workload | conns | server | req/s | p50 | p99 | socket errors | non-2xx |"
echo "|---|---:|---|---:|---:|---:|---:|---:|"
for wl in hot cold 404; do
  if [ "$wl" = cold ]; then stop_hipsserve; start_hipsserve 0; fi
  if [ "$wl" = 404 ]; then stop_hipsserve; start_hipsserve 268435456; fi
  for c in 1 64 256; do
    for srv in hipsserve nginx; do
      if [ $srv = hipsserve ]; then url="http://$HS_ADDR"; else url="http://127.0.0.1:$NPORT"; fi
      read -r rps p50 p99 err non2xx < <(run_wrk "$url" "$WORK/$wl.lua" "$c")
      echo "| $wl | $c | $srv | $rps | $p50 | $p99 | $err | $non2xx |"
    done
  done
done
stop_hipsserve
echo "raw wrk output: $WORK/wrk.log" >&2
