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
