#!/usr/bin/env bash
# Soak of hipsserve: DUR seconds (600) of mixed traffic at CONNS connections (256) from wrk, while hipsserve's RSS is
# sampled from /proc every 5 s. The mix, per request at random: 50% hot tiles (8 real tiles / Allsky files of the
# reference HiPS), 20% cold tiles (4096 distinct paths, more than the cache keeps), 10% tiles that do not exist (404),
# 12% on-demand FITS tiles one and two orders below the stored ones (rendered from LSST-like coadds), 3% SODA cutouts
# (20" circles on the coadds) and 5% properties / hipslist. Reports the answers by status, wrk's throughput and
# latency, and the RSS after warm-up (first minute), its maximum and at the end, against the configured budgets
# (cache 256 MiB, limits.max_uncached_bytes).
#
# Usage: flock -x /tmp/cpu.lock benches/soak.sh   (env: DUR, CONNS, SKIP_BUILD=1 to use target/release as it is)
set -euo pipefail
DUR=${DUR:-600}; CONNS=${CONNS:-256}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REF=${REF_HIPS:-$ROOT/../shared/data/reference_hips}
W=$(mktemp -d /tmp/soak.XXXXXX)
chmod 755 "$W"
. "$(dirname "$0")/serve_common.sh"
[ -n "${SKIP_BUILD:-}" ] || (cd "$ROOT" && cargo build --release -p hipsgen -p hipsserve >&2)
HG=$ROOT/target/release/hipsgen
HS=$ROOT/target/release/hipsserve

mkdir -p "$W/data"
cp -r "$REF/CFHT" "$REF/JWST_MIRI" "$W/data/"
write_cold_data "$W/data"
"$HG" synth --out "$W/syn" --bands g --patches 4 --patch-size 1024 >/dev/null 2>&1
"$HG" tiles --input "$W/syn/g/*.fits" --out "$W/data/g" --band g --formats fits,png >/dev/null 2>&1
chmod -R a+rX "$W/data"
K=$(sed -n 's/^hips_order *= *//p' "$W/data/g/properties")
CACHE=268435456
UNCACHED=134217728
printf '[defaults]\non_demand_orders = 2\n[on_demand]\ncoadd_roots = ["%s"]\n[limits]\nmax_connections = 1024\nmax_uncached_bytes = %d\n' \
  "$W/syn" "$UNCACHED" > "$W/hs.toml"
RUST_LOG=warn "$HS" --root "$W/data" --listen 127.0.0.1:0 --no-access-log --cache-bytes $CACHE --config "$W/hs.toml" \
  >"$W/hs.out" 2>"$W/hs.err" &
PID=$!; PIDS+=($PID)
for _ in $(seq 100); do grep -q listening "$W/hs.out" 2>/dev/null && break; sleep 0.1; done
ADDR=$(sed -n 's/.*http:\/\///p' "$W/hs.out")

# The request mix as Lua tables (paths built here, from the files on disk).
"${PY:-$ROOT/.venv/bin/python}" - "$W" "$K" > "$W/mix.lua" <<'EOF'
import glob, os, sys, urllib.parse
w, k = sys.argv[1], int(sys.argv[2])
def lua(name, items):
    print(f"local {name} = {{")
    for i in items:
        print(f'  "{i}",')
    print("}")
hot = ["/CFHT/Norder5/Dir0/Npix3380.png", "/CFHT/Norder5/Dir0/Npix3377.png", "/CFHT/Norder4/Dir0/Npix844.png",
       "/CFHT/Norder3/Allsky.png", "/JWST_MIRI/Norder7/Dir50000/Npix54047.png",
       "/JWST_MIRI/Norder6/Dir10000/Npix13511.png", "/JWST_MIRI/Norder5/Dir0/Npix3377.png", "/JWST_MIRI/Norder3/Allsky.png"]
missing = [f"/CFHT/Norder5/Dir0/Npix{n}.png" for n in range(100, 110)] + ["/nosuch/properties", "/g/Norder3/Dir0/Npix1.fits"]
stored = [int(os.path.basename(p)[4:-5]) for p in glob.glob(f"{w}/data/g/Norder{k}/Dir*/Npix*.fits")]
ondemand = []
for n in stored:
    for d in (1, 2):
        for c in range(n * 4 ** d, n * 4 ** d + 4 ** d, max(1, 4 ** d // 4)):
            ondemand.append(f"/g/Norder{k + d}/Dir{c // 10000 * 10000}/Npix{c}.fits")
soda = []
from astropy.io import fits  # noqa: E402 (only for the coadd centres)
from astropy.wcs import WCS  # noqa: E402
import warnings  # noqa: E402
warnings.simplefilter("ignore")
for p in sorted(glob.glob(f"{w}/syn/g/*.fits")):
    with fits.open(p) as f:
        h = f["IMAGE"].header
        ra, dec = WCS(h).all_pix2world([[h["NAXIS1"] / 2, h["NAXIS2"] / 2]], 0)[0]
    soda.append(f"/g/soda/sync?ID={urllib.parse.quote(p, safe='')}&POS=CIRCLE%20{ra:.6f}%20{dec:.6f}%200.0056")
lua("hot", hot); lua("missing", missing); lua("ondemand", ondemand); lua("soda", soda)
lua("meta", ["/CFHT/properties", "/g/properties", "/hipslist", "/g/Moc.fits"])
EOF
cat >> "$W/mix.lua" <<'EOF'
local threads = {}
function setup(t) table.insert(threads, t) end
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  codes = {}
end
function request()
  local r = math.random(100)
  local p
  if r <= 50 then p = hot[math.random(#hot)]
  elseif r <= 70 then
    local n = 1000000 + math.random(0, 4095) * 7
    p = string.format("/synthetic/Norder9/Dir%d/Npix%d.png", math.floor(n / 10000) * 10000, n)
  elseif r <= 80 then p = missing[math.random(#missing)]
  elseif r <= 92 then p = ondemand[math.random(#ondemand)]
  elseif r <= 95 then p = soda[math.random(#soda)]
  else p = meta[math.random(#meta)] end
  return wrk.format("GET", p)
end
function response(status, headers, body) codes[status] = (codes[status] or 0) + 1 end
function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    for s, n in pairs(t:get("codes")) do all[s] = (all[s] or 0) + n end
  end
  local keys = {}
  for s in pairs(all) do table.insert(keys, s) end
  table.sort(keys)
  for _, s in ipairs(keys) do io.write(string.format("STATUS %d %d\n", s, all[s])) end
  io.write(string.format("LAT p50 %.1f ms p99 %.1f ms max %.1f ms\n", latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
EOF

( while kill -0 $PID 2>/dev/null; do
    echo "$(date +%s) $(awk '/VmRSS/ {print $2}' /proc/$PID/status 2>/dev/null)"; sleep 5
  done ) > "$W/rss.log" &
SAMPLER=$!; PIDS+=($SAMPLER)
T0=$(date +%s)
wrk -t2 -c"$CONNS" -d"${DUR}s" --timeout 30s -s "$W/mix.lua" "http://$ADDR" > "$W/wrk.out" 2>&1 || true
kill $SAMPLER 2>/dev/null || true
grep -E "Requests/sec|Socket errors|Non-2xx|requests in" "$W/wrk.out" || true
grep -E "^(STATUS|LAT)" "$W/wrk.out" || true
awk -v t0="$T0" -v cache=$CACHE -v unc=$UNCACHED '
  NF == 2 && $2 != "" { t = $1 - t0; mb = $2 / 1024;
    if (t >= 60) { if (!w) { w = mb; wt = t } ; if (mb > mx) mx = mb; last = mb; n++ } }
  END { printf "RSS after warm-up (t=%d s) %.0f MB, max %.0f MB, at the end %.0f MB; budgets: cache %.0f MB + uncached %.0f MB (%d samples)\n",
        wt, w, mx, last, cache / 1048576, unc / 1048576, n }' "$W/rss.log"
kill -0 $PID 2>/dev/null && echo "hipsserve still running after the soak" || echo "hipsserve DIED during the soak"
echo "work dir: $W (wrk.out, rss.log, hs.err)"
