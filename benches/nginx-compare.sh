#!/usr/bin/env bash
# The edge against Debian's nginx, side by side on 127.0.0.1, in front of the same
# trivial upstream (benches/src/bin/echo-upstream.rs), the same real vote service (with
# its own redis-server; the stream is emptied between runs), and the same copy of www/
# (plus a generated 100 KB asset, and .gz siblings as the container build makes them). nginx
# gets the equivalent configuration: keep-alive to the upstream, gzip_static, the same
# security headers and request id on responses, the same forwarding fields and request id
# on proxied requests, no access log. oha measures, keep-alive on, for each row and each
# concurrency; every request asks for gzip, so both serve the same bytes.
#
#   benches/nginx-compare.sh [duration=5s] [concurrencies="50 256"] [rounds=3]
#
# Each row is measured in rounds, the two servers in turns (which one goes first
# alternates), and prints the median requests/s, p50 and p99 per server, the ratios of
# the medians, and the lowest and highest of the rounds' own r/s ratios: on a shared
# 2-core machine one 5-second pair can swing either way by several per cent. Then, on the
# trivial POST row, a bare hyper proxy (hyper's server and client, nothing else) beside
# both with each one's CPU per request, which splits the edge's cost into hyper's and
# the edge's own; then the edge's resident memory idle and at its peak under load
# (VmRSS / VmHWM).
set -euo pipefail
duration=${1:-5s}
concurrencies=${2:-50 256}
rounds=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
edge_port=19080 upstream_port=19081 nginx_port=19090
vote_port=19082 vote_edge_port=19083 vote_nginx_port=19091 redis_port=19379
bare_port=19084
# Admin ports (metrics, health) of the services started here: one each, so that two
# edges can run side by side and nothing collides with a running stack's defaults.
vote_admin=127.0.0.1:19182 edge_admin=127.0.0.1:19180 vote_edge_admin=127.0.0.1:19183

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "installing nginx-light" >&2
  apt-get update -qq >/dev/null && { apt-get install -y -qq nginx-light >/dev/null 2>&1 || apt-get install -y -qq nginx >/dev/null; }
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
export PATH="$HOME/.cargo/bin:$PATH"
command -v oha >/dev/null || cargo install oha --locked >/dev/null

# The services as the images ship them (the dist profile; the edge profile-guided, by
# the Containerfile's script); the trivial upstream is the same for both sides.
cargo build --profile dist -q -p tally-vote -p tally-benches --bin tally-vote --bin echo-upstream --bin bare-proxy
bin="${CARGO_TARGET_DIR:-$root/target}/dist"
edge_bin="${CARGO_TARGET_DIR:-$root/target}/pgo/tally-edge"
pgo_log="${CARGO_TARGET_DIR:-$root/target}/pgo/build.log"
mkdir -p "$(dirname "$pgo_log")"
if ! "$root/scripts/build-edge-pgo" "$edge_bin" >"$pgo_log" 2>&1; then
  tail -n 30 "$pgo_log" >&2; echo "the edge's profile-guided build failed (whole log: $pgo_log)" >&2; exit 1
fi
grep -E '^(build-edge-pgo|edge-train)' "$pgo_log" >&2

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# The front end, a 100 KB asset (base64 text, so it compresses like real JS would) and
# gzip siblings of every text file.
cp -r "$root/www" "$work/www"
head -c 76800 /dev/urandom | base64 -w 100 > "$work/www/asset-100k.js"
find "$work/www" -type f \( -name '*.html' -o -name '*.css' -o -name '*.js' -o -name '*.svg' \) -exec gzip -k -9 {} \;
chmod -R a+rX "$work"

"$bin/echo-upstream" "127.0.0.1:$upstream_port" 2>/dev/null & pids+=($!)
"$bin/bare-proxy" "127.0.0.1:$bare_port" "127.0.0.1:$upstream_port" 2>/dev/null & bare_pid=$!; pids+=($bare_pid)

# The real vote service, on a Redis of its own that holds the default poll's definition
# (the worker would write it) and no persistence; votes pile up in the stream, which
# each measurement empties first.
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >/dev/null & pids+=($!)
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$redis_port" set poll:default \
  '{"id":"default","question":"Cats vs Dogs","choice":"single","open":true,"options":[{"id":"a","label":"Cats"},{"id":"b","label":"Dogs"}]}' >/dev/null
VOTE_LISTEN=127.0.0.1:$vote_port VOTE_ADMIN_LISTEN=$vote_admin REDIS_URL=redis://127.0.0.1:$redis_port/ VOTE_QUEUE_HIGH_WATER=100000000 \
VOTE_DURABILITY=written RUST_LOG=warn "$bin/tally-vote" 2>"$work/vote.log" & pids+=($!)
EDGE_LISTEN=127.0.0.1:$vote_edge_port EDGE_ADMIN_LISTEN=$vote_edge_admin EDGE_WWW_DIR="$work/www" \
EDGE_VOTE_UPSTREAMS=127.0.0.1:$vote_port EDGE_RESULT_UPSTREAMS=127.0.0.1:$vote_port \
EDGE_RATE_LIMIT=off RUST_LOG=warn "$edge_bin" 2>"$work/edge-vote.log" & pids+=($!)

EDGE_LISTEN=127.0.0.1:$edge_port EDGE_ADMIN_LISTEN=$edge_admin EDGE_WWW_DIR="$work/www" \
EDGE_VOTE_UPSTREAMS=127.0.0.1:$upstream_port EDGE_RESULT_UPSTREAMS=127.0.0.1:$upstream_port \
EDGE_RATE_LIMIT=off RUST_LOG=warn "$edge_bin" 2>"$work/edge.log" & edge_pid=$!; pids+=($edge_pid)

mkdir -p "$work/nginx/logs"
# What the edge adds to every response (its security headers and the request id) and
# to every proxied request (the forwarding fields and the request id), so that both
# sides write and send the same fields.
security_headers=$(cat <<'EOF'
    add_header Content-Security-Policy "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'" always;
    add_header X-Content-Type-Options nosniff always;
    add_header Referrer-Policy no-referrer always;
    add_header X-Frame-Options DENY always;
    add_header X-Request-Id $request_id always;
EOF
)
proxy_headers=$(cat <<'EOF'
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header Forwarded "for=$remote_addr;proto=$scheme;host=\"$http_host\"";
      proxy_set_header X-Request-Id $request_id;
EOF
)
cat > "$work/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 8192; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000;
  gzip_static on;
  etag on;
  client_body_temp_path $work/nginx/body; proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi; uwsgi_temp_path $work/nginx/uwsgi; scgi_temp_path $work/nginx/scgi;
  upstream vote { server 127.0.0.1:$upstream_port; keepalive 256; }
  upstream realvote { server 127.0.0.1:$vote_port; keepalive 256; }
  server {
    listen 127.0.0.1:$vote_nginx_port reuseport backlog=4096;
$security_headers
    location = /vote { proxy_pass http://realvote;
$proxy_headers
    }
  }
  server {
    listen 127.0.0.1:$nginx_port reuseport backlog=4096;
    root $work/www;
$security_headers
    location = /vote { proxy_pass http://vote;
$proxy_headers
    }
    # An add_header here replaces the server's, so the security headers are repeated.
    location / { try_files \$uri \$uri/index.html =404; add_header Cache-Control no-cache;
$security_headers
    }
    # nginx at its best on each row: tcp_nopush (TCP_CORK around sendfile) serves the
    # small files faster, but holds the 100 KB file's last segment back for a delayed
    # ACK: measured here, p99 42 ms and a fifth fewer requests/s at c=50 with it on.
    location = /asset-100k.js { tcp_nopush off; add_header Cache-Control no-cache;
$security_headers
    }
  }
}
EOF
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2>"$work/nginx/stderr" & nginx_pid=$!; pids+=($nginx_pid)

for port in $edge_port $nginx_port $upstream_port $vote_port $vote_edge_port $bare_port; do
  for _ in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break
    curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break; sleep 0.1; done
done
rss() { awk -v k="$2" '$1==k":" {print $2}' "/proc/$1/status"; }
# Connections the kernel refused because a listen queue was full (machine-wide): each
# one is a client waiting a second for its SYN to be sent again.
listen_overflows() { nstat -az TcpExtListenOverflows 2>/dev/null | awk '/ListenOverflows/ {print $2}'; }
overflows_before=$(listen_overflows)
idle_rss=$(rss "$edge_pid" VmRSS)

# One oha run: prints "requests/s p50_ms p99_ms non-2xx answered".
measure() {
  local url=$1 c=$2; shift 2
  oha --no-tui --output-format json -z "$duration" -c "$c" -H 'accept-encoding: gzip' "$@" "$url" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["summary"]; p=d["latencyPercentiles"]; codes=d.get("statusCodeDistribution",{}); bad=",".join("%sx%d" % (k, v) for k, v in sorted(codes.items()) if not k.startswith("2")) or "0"; print("%.0f %.2f %.2f %s %d" % (s["requestsPerSec"], p["p50"]*1000, p["p99"]*1000, bad, sum(codes.values())))'
}

# CPU time (user + system, clock ticks) spent so far by the processes given and their
# children (nginx's workers).
cpu_ticks() {
  local total=0 pid
  for pid in "$@" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}

# measure, for the server whose process is $1: prints "requests/s p99_ms cpu_us_per_request".
measure_cpu() {
  local pid=$1 before after rps p99 answered; shift
  before=$(cpu_ticks "$pid")
  read -r rps _ p99 _ answered < <(measure "$@")
  after=$(cpu_ticks "$pid")
  echo "$rps $p99 $(python3 -c "import os, sys; print('%.1f' % ((int(sys.argv[2]) - int(sys.argv[1])) * 1e6 / os.sysconf('SC_CLK_TCK') / max(int(sys.argv[3]), 1)))" "$before" "$after" "$answered")"
}

# Before each measurement: the vote stream emptied (Redis frees it) and a second's pause,
# so that neither server is measured while the last one's run still winds down.
settle() { redis-cli -p "$redis_port" del votes >/dev/null; sleep 1; }

# name|path|oha flags|edge port|nginx port
vote_flags="-m POST -H content-type:application/x-www-form-urlencoded -d vote=a"
rows=("POST /vote trivial|/vote|$vote_flags|$edge_port|$nginx_port"
      "POST /vote service|/vote|$vote_flags|$vote_edge_port|$vote_nginx_port"
      "GET / (index.html)|/||$edge_port|$nginx_port"
      "GET 100 KB asset|/asset-100k.js||$edge_port|$nginx_port")
# One row at one concurrency, in rounds: prints the medians and ratios (see the top).
compare_row() {
  local name=$1 path=$2 flags=$3 e_port=$4 n_port=$5 c=$6 round order side out
  local runs=() bad=""
  for round in $(seq "$rounds"); do
    order="edge nginx"; [ $((round % 2)) -eq 0 ] && order="nginx edge"
    for side in $order; do
      settle
      if [ "$side" = edge ]; then
        # shellcheck disable=SC2086
        out=$(measure "http://127.0.0.1:$e_port$path" "$c" $flags)
      else
        # shellcheck disable=SC2086
        out=$(measure "http://127.0.0.1:$n_port$path" "$c" $flags)
      fi
      runs+=("$round $side $out")
      read -r _ _ _ bad_codes _ <<<"$out"
      [ "$bad_codes" = 0 ] || bad="$bad $side:$bad_codes"
    done
  done
  printf '%s\n' "${runs[@]}" | python3 -c '
import statistics, sys
name, c = sys.argv[1], sys.argv[2]
runs = {}
for line in sys.stdin:
    rnd, side, rps, p50, p99, _bad, _n = line.split()
    runs.setdefault(side, {})[int(rnd)] = (float(rps), float(p50), float(p99))
med = {side: [statistics.median(r[i] for r in rs.values()) for i in range(3)] for side, rs in runs.items()}
e, n = med["edge"], med["nginx"]
per_round = [runs["edge"][r][0] / max(runs["nginx"][r][0], 1) for r in sorted(runs["edge"])]
print("%-20s %4s | %10.0f %8.2f %8.2f | %10.0f %8.2f %8.2f | %7.2f %11s %7.2f" % (
    name, c, e[0], e[1], e[2], n[0], n[1], n[2], e[0] / max(n[0], 1),
    "%.2f-%.2f" % (min(per_round), max(per_round)), e[2] / max(n[2], 0.001)), end="")
' "$name" "$c"
  [ -z "$bad" ] && echo || echo "   (non-2xx, side:status x count:$bad)"
}

echo "medians of $rounds rounds of $duration per server, in turns"
printf '%-20s %4s | %10s %8s %8s | %10s %8s %8s | %7s %11s %7s\n' row c "edge r/s" "p50 ms" "p99 ms" "nginx r/s" "p50 ms" "p99 ms" "r/s x" "rounds r/s x" "p99 x"
for row in "${rows[@]}"; do
  IFS='|' read -r name path flags e_port n_port <<<"$row"
  for c in $concurrencies; do
    compare_row "$name" "$path" "$flags" "$e_port" "$n_port" "$c"
  done
done
# The floor under the proxied rows: hyper's server and client with nothing else
# (benches/src/bin/bare-proxy.rs), measured again beside nginx and the edge, with each
# one's CPU per request (user + system, from /proc): on a shared machine the steadier
# figure of the two.
echo
printf '%-26s %4s | %10s %8s %12s | %7s\n' "POST /vote trivial" c "r/s" "p99 ms" "CPU us/req" "r/s x nginx"
for c in $concurrencies; do
  # shellcheck disable=SC2086
  read -r b_rps b_p99 b_cpu < <(measure_cpu "$bare_pid" "http://127.0.0.1:$bare_port/vote" "$c" $vote_flags)
  # shellcheck disable=SC2086
  read -r n_rps n_p99 n_cpu < <(measure_cpu "$nginx_pid" "http://127.0.0.1:$nginx_port/vote" "$c" $vote_flags)
  # shellcheck disable=SC2086
  read -r e_rps e_p99 e_cpu < <(measure_cpu "$edge_pid" "http://127.0.0.1:$edge_port/vote" "$c" $vote_flags)
  for server in "nginx $n_rps $n_p99 $n_cpu" "bare hyper proxy $b_rps $b_p99 $b_cpu" "edge $e_rps $e_p99 $e_cpu"; do
    read -r -a fields <<<"$server"
    count=${#fields[@]}
    label="${fields[*]:0:count-3}"
    printf '%-26s %4s | %10s %8s %12s | %7s\n' "$label" "$c" "${fields[count-3]}" "${fields[count-2]}" "${fields[count-1]}" \
      "$(python3 -c "import sys; print('%.2f' % (float(sys.argv[1]) / max(float(sys.argv[2]), 1)))" "${fields[count-3]}" "$n_rps")"
  done
done
# What the edges logged at warn and above (every answer they did not give a 2xx to).
for log in "$work/edge.log" "$work/edge-vote.log"; do
  if grep -q . "$log"; then echo "--- $(basename "$log"), last lines:"; tail -n 5 "$log"; fi
done
if [ -n "$overflows_before" ]; then
  echo "listen queue overflows during the run (machine-wide): $(( $(listen_overflows) - overflows_before ))"
fi
echo "edge RSS: idle $((idle_rss / 1024)) MB, peak under load $(( $(rss "$edge_pid" VmHWM) / 1024 )) MB, now $(( $(rss "$edge_pid" VmRSS) / 1024 )) MB"
