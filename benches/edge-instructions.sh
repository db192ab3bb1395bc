#!/usr/bin/env bash
# Instructions per proxied request, counted by valgrind's callgrind: the edge and the
# bare hyper proxy in front of the same trivial upstream, POST /vote at c=10. Unlike
# time, the count does not move with the machine's load (repeat runs agree within
# 0.3 %), so it shows changes of 1 % that edge-ab.sh cannot. It counts user-space work
# only: system calls and the kernel's share of a request are not in it.
#
#   benches/edge-instructions.sh [requests=5000] [top=30] [edge binary]
#
# Prints both totals per request and the edge's functions by their own instructions
# per request. The binaries are built with symbols into a target directory of their
# own (first build: a few minutes), so the shipped build is left alone; pass an edge
# binary built that way to count another version.
set -euo pipefail
requests=${1:-5000} top=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
edge_port=19380 admin_port=19381 upstream_port=19382
warm_up=1000

export PATH="$HOME/.cargo/bin:$PATH"
command -v oha >/dev/null || cargo install oha --locked >/dev/null
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
target="${CARGO_TARGET_DIR:-$root/target}-symbols"
CARGO_TARGET_DIR=$target CARGO_PROFILE_DIST_STRIP=none CARGO_PROFILE_DIST_DEBUG=line-tables-only \
  cargo build --profile dist -q -p tally-edge -p tally-benches --bin tally-edge --bin bare-proxy --bin echo-upstream
edge=${3:-$target/dist/tally-edge}

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$target/dist/echo-upstream" "127.0.0.1:$upstream_port" 2>/dev/null & pids+=($!)

load() {
  oha --no-tui -n "$1" -c 10 -m POST -H content-type:application/x-www-form-urlencoded -d vote=a \
    "http://127.0.0.1:$edge_port/vote" >/dev/null
}

# Counts one proxy (the command after the label) over $requests requests, after a
# warm-up that opens the connections and fills the pools; the count is zeroed between.
count() {
  local label=$1 pid; shift
  valgrind --tool=callgrind --callgrind-out-file="$work/$label" "$@" 2>"$work/$label.log" & pid=$!
  pids+=($pid)
  for _ in $(seq 300); do curl -fsS -o /dev/null -d vote=a "http://127.0.0.1:$edge_port/vote" 2>/dev/null && break; sleep 0.2; done
  load "$warm_up"
  callgrind_control --zero "$pid" >/dev/null 2>&1
  load "$requests"
  callgrind_control --dump "$pid" >/dev/null 2>&1
  kill "$pid" 2>/dev/null || { echo "$label exited early:" >&2; tail -5 "$work/$label.log" >&2; exit 1; }
  wait "$pid" 2>/dev/null || true
}

EDGE_LISTEN=127.0.0.1:$edge_port EDGE_ADMIN_LISTEN=127.0.0.1:$admin_port EDGE_WWW_DIR="$root/www" \
EDGE_VOTE_UPSTREAMS=127.0.0.1:$upstream_port EDGE_RESULT_UPSTREAMS=127.0.0.1:$upstream_port \
EDGE_RATE_LIMIT=off RUST_LOG=warn count edge "$edge"
count bare "$target/dist/bare-proxy" "127.0.0.1:$edge_port" "127.0.0.1:$upstream_port"

python3 - "$work/edge.1" "$work/bare.1" "$requests" "$top" <<'PY'
import collections, re, sys

def own_costs(path):
    """Instructions by function, each function's own (calls out of it excluded)."""
    names, costs, function, in_call = {}, collections.Counter(), None, False
    def name(token):
        found = re.match(r'\((\d+)\)(?: (.*))?', token)
        if found.group(2):
            names[found.group(1)] = found.group(2)
        return names.get(found.group(1), found.group(1))
    for line in open(path):
        if line.startswith('fn='):
            function = name(line[3:].strip())
        elif line.startswith('cfn='):
            name(line[4:].strip())
        elif line.startswith('calls='):
            in_call = True
        elif line[:1].isdigit() or line[:1] in '+-*':
            fields = line.split()
            if len(fields) >= 2:
                if in_call:
                    in_call = False
                else:
                    costs[function] += int(fields[1])
    return costs

edge_path, bare_path, requests, top = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
edge, bare = own_costs(edge_path), own_costs(bare_path)
edge_total, bare_total = sum(edge.values()) / requests, sum(bare.values()) / requests
print(f"instructions per proxied request: edge {edge_total:,.0f}, bare hyper proxy {bare_total:,.0f} "
      f"(edge/bare {edge_total / bare_total:.2f})")
print(f"\nthe edge's functions by their own instructions per request (top {top}):")
for function, cost in edge.most_common(top):
    print(f"{cost / requests:8,.0f}  {function[:150]}")
PY
