#!/usr/bin/env bash
# Crowds of clients leaving the edge at once: back-to-back oha runs of proxied votes at
# a high concurrency, each ending with every client gone mid-request, so the edge
# cancels all its upstream HTTP/2 streams together. Prints each run's figures, then the
# upstream connections the edge saw end with an error (its warn lines: a replica's
# GOAWAY such as `too_many_resets` fails every request the connection carried). Tally's
# services must take such crowds without closing the connection: 0 is the answer.
#
#   benches/crowd-leaves.sh [upstream=vote|trivial] [runs=10] [concurrency=256] [duration=2s]
#
# vote: the real vote service, on a Redis of its own; trivial: benches' echo-upstream.
# The services as the images ship them (the dist profile), or, with BIN_DIR set, the
# tally-edge, tally-vote and echo-upstream binaries found there (an older build).
set -euo pipefail
upstream=${1:-vote} runs=${2:-10} concurrency=${3:-256} duration=${4:-2s}
case $upstream in vote | trivial) ;; *) sed -n '9,14p' "$0" >&2; exit 64 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
edge_port=19480 edge_admin=127.0.0.1:19481 upstream_port=19482 upstream_admin=127.0.0.1:19483
redis_port=19484

export PATH="$HOME/.cargo/bin:$PATH"
command -v oha >/dev/null || cargo install oha --locked >/dev/null
if [ -n "${BIN_DIR:-}" ]; then
  bin=$(realpath "$BIN_DIR")
else
  cargo build --profile dist -q -p tally-edge -p tally-vote
  cargo build --profile dist -q -p tally-benches --bin echo-upstream
  bin="${CARGO_TARGET_DIR:-$root/target}/dist"
fi

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

if [ "$upstream" = vote ]; then
  command -v redis-server >/dev/null || { apt-get update -qq >/dev/null && apt-get install -y -qq redis-server >/dev/null; }
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null & pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  # The default poll's definition, as the worker would write it.
  redis-cli -p "$redis_port" set poll:default \
    '{"id":"default","question":"Cats vs Dogs","choice":"single","open":true,"options":[{"id":"a","label":"Cats"},{"id":"b","label":"Dogs"}]}' >/dev/null
  VOTE_LISTEN=127.0.0.1:$upstream_port VOTE_ADMIN_LISTEN=$upstream_admin REDIS_URL=redis://127.0.0.1:$redis_port/ \
  VOTE_QUEUE_HIGH_WATER=100000000 VOTE_DURABILITY=written RUST_LOG=warn "$bin/tally-vote" 2>"$work/upstream.log" & pids+=($!)
else
  "$bin/echo-upstream" "127.0.0.1:$upstream_port" 2>"$work/upstream.log" & pids+=($!)
fi
EDGE_LISTEN=127.0.0.1:$edge_port EDGE_ADMIN_LISTEN=$edge_admin EDGE_WWW_DIR="$root/www" \
EDGE_VOTE_UPSTREAMS=127.0.0.1:$upstream_port EDGE_RESULT_UPSTREAMS=127.0.0.1:$upstream_port \
EDGE_RATE_LIMIT=off LOG_FORMAT=json RUST_LOG=warn "$bin/tally-edge" 2>"$work/edge.log" & pids+=($!)
for _ in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$edge_port/readyz" 2>/dev/null && break; sleep 0.1; done

echo "$runs runs of $duration at c=$concurrency through the edge to the $upstream upstream"
for run in $(seq "$runs"); do
  oha --no-tui --output-format json -z "$duration" -c "$concurrency" \
    -m POST -H content-type:application/x-www-form-urlencoded -d vote=a "http://127.0.0.1:$edge_port/vote" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["summary"]; c=d.get("statusCodeDistribution",{}); print("run %s: %.0f r/s, statuses %s" % (sys.argv[1], s["requestsPerSec"], dict(sorted(c.items()))))' "$run"
  if [ "$upstream" = vote ]; then redis-cli -p "$redis_port" del votes >/dev/null; fi
done
sleep 1
python3 - "$work/edge.log" <<'EOF'
import collections, json, sys
ended = collections.Counter()
for line in open(sys.argv[1]):
    try:
        fields = json.loads(line).get("fields", {})
    except ValueError:
        continue
    if fields.get("message") == "upstream connection ended with an error":
        ended[fields.get("error", "?")] += 1
print("upstream connections that ended with an error: %d" % sum(ended.values()))
for error, count in ended.most_common():
    print("  %d x %s" % (count, error))
EOF
