# Shared pieces of the server benchmarks (sourced, not run): the prerequisites (wrk, nginx), the background processes
# killed on exit (PIDS), the hot-tile request mix, and nginx, unprivileged, with a temporary config as a tuned static
# file server (2 workers, sendfile, open_file_cache, no access log).

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
command -v wrk >/dev/null || { echo "wrk not installed" >&2; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx not installed" >&2; exit 1; }

# write_hot_lua FILE: a wrk script cycling over 8 real tiles / Allsky files of the reference HiPS (2 KB to 140 KB).
write_hot_lua() {
  cat > "$1" <<'EOL'
local paths = {
  "/CFHT/Norder5/Dir0/Npix3380.png", "/CFHT/Norder5/Dir0/Npix3377.png", "/CFHT/Norder4/Dir0/Npix844.png",
  "/CFHT/Norder3/Allsky.png", "/JWST_MIRI/Norder7/Dir50000/Npix54047.png", "/JWST_MIRI/Norder6/Dir10000/Npix13511.png",
  "/JWST_MIRI/Norder5/Dir0/Npix3377.png", "/JWST_MIRI/Norder3/Allsky.png" }
local i = 0
request = function() i = i % #paths + 1; return wrk.format("GET", paths[i]) end
EOL
}

# write_cold_data DATA: a synthetic HiPS DATA/synthetic of 4096 distinct order-9 tiles (hard links to one real 140 KB
# PNG tile of DATA/CFHT, no extra disk). write_cold_lua FILE: a wrk script requesting them at random.
write_cold_data() {
  local syn=$1/synthetic src=$1/CFHT/Norder5/Dir0/Npix3380.png i n d
  [ -f "$src" ] || { echo "write_cold_data: no $src" >&2; return 1; }
  mkdir -p "$syn/Norder9"
  printf '%s\n' \
    'creator_did          = ivo://example/bench/synthetic' \
    'obs_title            = synthetic benchmark HiPS' \
    'dataproduct_type     = image' \
    'hips_version         = 1.4' \
    'hips_release_date    = 2026-11-23T00:00Z' \
    'hips_status          = public master unclonable' \
    'hips_tile_format     = png' \
    'hips_tile_width      = 512' \
    'hips_order           = 9' \
    'hips_frame           = equatorial' > "$syn/properties"
  for i in $(seq 0 4095); do
    n=$((1000000 + i * 7)); d=$(( n / 10000 * 10000 ))
    mkdir -p "$syn/Norder9/Dir$d"
    ln "$src" "$syn/Norder9/Dir$d/Npix$n.png"
  done
}
write_cold_lua() {
  printf '%s\n' \
    'math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))' \
    'request = function()' \
    '  local n = 1000000 + math.random(0, 4095) * 7' \
    '  return wrk.format("GET", string.format("/synthetic/Norder9/Dir%d/Npix%d.png", math.floor(n / 10000) * 10000, n))' \
    'end' > "$1"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_nginx DIR ROOT [WORKERS]: serves ROOT on a free loopback port with WORKERS (2) worker processes, config and
# logs under DIR; sets NPORT, appends to PIDS. Runs under $SERVER_CPUS (taskset) when that is set.
start_nginx() {
  local dir=$1 root=$2 workers=${3:-2}
  NPORT=$(free_port)
  mkdir -p "$dir/logs" "$dir/tmp"
  cat > "$dir/nginx.conf" <<EOC
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  types { image/png png; image/jpeg jpg; application/fits fits; text/html html; }
  default_type text/plain;
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000; keepalive_timeout 75s;
  open_file_cache max=10000 inactive=60s; open_file_cache_errors on;
  client_body_temp_path $dir/tmp/body; proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fcgi; uwsgi_temp_path $dir/tmp/uwsgi; scgi_temp_path $dir/tmp/scgi;
  server { listen 127.0.0.1:$NPORT; root $root; etag on; }
}
EOC
  ${SERVER_CPUS:+taskset -c $SERVER_CPUS} "$NGINX" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' 2>"$dir/stderr" &
  PIDS+=($!)
}
