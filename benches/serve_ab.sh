#!/usr/bin/env bash
# Same-run A/B of hipsserve binaries against each other and nginx on hot tiles (the "hot" workload of
# serve_vs_nginx.sh: 8 real tiles / Allsky files of the reference HiPS, round-robin, all in hipsserve's cache), or
# with WORKLOAD=cold on cache misses (serve_vs_nginx.sh's "cold": 4096 distinct tile paths at random, hipsserve's
# object cache off, so every request reads storage, as nginx's does).
# Rounds interleave the servers (the order rotates each round) so drift of this VM's speed hits all of them alike.
# Besides wrk's req/s and p50/p99 it prints the CPU time per request of the server processes (utime+stime from
# /proc, 10 ms ticks) and of wrk itself (the two share the machine's CPUs, so both bound the throughput).
#
# Usage: benches/serve_ab.sh NAME=BINARY [NAME=BINARY...]
#   env: ROUNDS (3), CONNS ("64 256"), DUR (5 s per cell), HS_ARGS (extra hipsserve flags), WORKLOAD (hot, cold),
#        SPLIT=1: the servers (nginx with 1 worker, hipsserve with --workers 1) run on CPU 1 only and wrk (1 thread)
#        on CPU 0 only, so the load generator never takes CPU time from the server it measures.
#   e.g. cp target/release/hipsserve /tmp/hs_old; (change, rebuild)
#        flock -x /tmp/cpu.lock benches/serve_ab.sh old=/tmp/hs_old new=target/release/hipsserve
# Servers are started before the measurements; run the whole script under the CPU lock.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REF=${REF_HIPS:-$ROOT/../shared/data/reference_hips}
W=$(mktemp -d /tmp/serve_ab.XXXXXX)
chmod 755 "$W"
. "$(dirname "$0")/serve_common.sh"

mkdir -p "$W/data"
cp -r "$REF/CFHT" "$REF/JWST_MIRI" "$W/data/"
CACHE_BYTES=268435456
case "${WORKLOAD:-hot}" in
  hot) write_hot_lua "$W/load.lua" ;;
  cold) write_cold_data "$W/data"; write_cold_lua "$W/load.lua"; CACHE_BYTES=0 ;;
  *) echo "WORKLOAD is hot or cold" >&2; exit 2 ;;
esac
chmod -R a+rX "$W/data"
if [ "${SPLIT:-0}" = 1 ]; then
  SERVER_CPUS=1; WRK_CPUS=0; NGINX_WORKERS=1; HS_ARGS="--workers 1 ${HS_ARGS:-}"
fi
start_nginx "$W/nginx" "$W/data" "${NGINX_WORKERS:-2}"
sleep 0.3
NAMES=(nginx); URLS=("http://127.0.0.1:$NPORT"); SPIDS=("${PIDS[0]} $(pgrep -P "${PIDS[0]}" | tr '\n' ' ')")
for spec in "$@"; do
  name=${spec%%=*}; bin=${spec#*=}
  RUST_LOG=warn ${SERVER_CPUS:+taskset -c $SERVER_CPUS} "$bin" --root "$W/data" --listen 127.0.0.1:0 --no-access-log --cache-bytes $CACHE_BYTES ${HS_ARGS:-} \
    >"$W/$name.out" 2>"$W/$name.err" &
  pid=$!; PIDS+=($pid)
  for _ in $(seq 100); do grep -q listening "$W/$name.out" 2>/dev/null && break; sleep 0.1; done
  NAMES+=("$name"); URLS+=("http://$(sed -n 's/.*http:\/\///p' "$W/$name.out")"); SPIDS+=("$pid")
done
for u in "${URLS[@]}"; do wrk -t1 -c4 -d1s -s "$W/load.lua" "$u" >/dev/null; done  # warm caches
ticks() { local s=0 p; for p in $1; do s=$((s + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo $s; }
TCK=$(getconf CLK_TCK)

echo "| round | conns | server | req/s | p50 | p99 | errors | server CPU us/req | wrk CPU us/req |"
echo "|---:|---:|---|---:|---:|---:|---|---:|---:|"
n=${#NAMES[@]}
for r in $(seq "${ROUNDS:-3}"); do
  for c in ${CONNS:-64 256}; do
    for k in $(seq 0 $((n - 1))); do
      i=$(( (k + r) % n ))
      t=2; [ "$c" -lt 2 ] || [ -n "${WRK_CPUS:-}" ] && t=1
      c0=$(ticks "${SPIDS[$i]}")
      out=$(/usr/bin/time -f "WRKCPU %U %S" ${WRK_CPUS:+taskset -c $WRK_CPUS} wrk -t$t -c"$c" -d"${DUR:-5}s" --latency -s "$W/load.lua" "${URLS[$i]}" 2>&1)
      c1=$(ticks "${SPIDS[$i]}")
      echo "$out" >> "$W/wrk.log"
      reqs=$(echo "$out" | awk '/requests in/ {print $1}')
      rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
      p50=$(echo "$out" | awk '$1=="50%" {print $2}')
      p99=$(echo "$out" | awk '$1=="99%" {print $2}')
      err=$(echo "$out" | awk '/Socket errors|Non-2xx/' | tr -s ' ' | tr '\n' ';')
      scpu=$(awk -v a="$c0" -v b="$c1" -v n="$reqs" -v t="$TCK" 'BEGIN{printf "%.1f", (b-a)*1e6/t/n}')
      wcpu=$(echo "$out" | awk -v n="$reqs" '/WRKCPU/ {printf "%.1f", ($2+$3)*1e6/n}')
      echo "| $r | $c | ${NAMES[$i]} | $rps | $p50 | $p99 | ${err:-0} | $scpu | $wcpu |"
    done
  done
done
echo "raw wrk output: $W/wrk.log" >&2
