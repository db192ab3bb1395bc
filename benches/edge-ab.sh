#!/usr/bin/env bash
# Two edge binaries, run in turns against the same trivial upstream, for a change too
# small to see across separate runs on a shared machine: each round starts A, loads it,
# stops it, then the same for B, and prints requests/s, p99 and the edge's CPU per
# request (user + system, from /proc). The medians at the end are what to compare.
#
#   benches/edge-ab.sh BINARY_A BINARY_B [rounds=4] [duration=4s] [concurrency=50]
#
# Build the binaries with the profile that ships (`cargo build --profile dist`) and copy
# each aside before building the other. Proxied POST /vote, as the nginx-compare row.
set -euo pipefail
if [ $# -lt 2 ]; then sed -n '2,10p' "$0" >&2; exit 64; fi
a=$(realpath "$1") b=$(realpath "$2")
rounds=${3:-4} duration=${4:-4s} concurrency=${5:-50}
root=$(cd "$(dirname "$0")/.." && pwd)
edge_port=19280 admin_port=19281 upstream_port=19282

export PATH="$HOME/.cargo/bin:$PATH"
command -v oha >/dev/null || cargo install oha --locked >/dev/null
cargo build --profile dist -q -p tally-benches --bin echo-upstream
bin="${CARGO_TARGET_DIR:-$root/target}/dist"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
"$bin/echo-upstream" "127.0.0.1:$upstream_port" 2>/dev/null & pids+=($!)

results=$(mktemp)
# One round for one binary: prints "label requests/s p99_ms cpu_us_per_request".
round() {
  local label=$1 binary=$2 edge before after
  EDGE_LISTEN=127.0.0.1:$edge_port EDGE_ADMIN_LISTEN=127.0.0.1:$admin_port EDGE_WWW_DIR="$root/www" \
  EDGE_VOTE_UPSTREAMS=127.0.0.1:$upstream_port EDGE_RESULT_UPSTREAMS=127.0.0.1:$upstream_port \
  EDGE_RATE_LIMIT=off RUST_LOG=warn "$binary" 2>/dev/null & edge=$!
  for _ in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$admin_port/readyz" 2>/dev/null && break; sleep 0.1; done
  before=$(awk '{print $14 + $15}' "/proc/$edge/stat")
  oha --no-tui --output-format json -z "$duration" -c "$concurrency" -m POST \
    -H content-type:application/x-www-form-urlencoded -d vote=a "http://127.0.0.1:$edge_port/vote" > "$results.json"
  after=$(awk '{print $14 + $15}' "/proc/$edge/stat")
  kill "$edge"; wait "$edge" 2>/dev/null || true
  python3 - "$label" "$before" "$after" "$results.json" <<'PY'
import json, os, sys
label, before, after, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
d = json.load(open(path))
answered = max(sum(d["statusCodeDistribution"].values()), 1)
cpu = (after - before) * 1e6 / os.sysconf("SC_CLK_TCK") / answered
print("%s %.0f %.2f %.1f" % (label, d["summary"]["requestsPerSec"], d["latencyPercentiles"]["p99"] * 1000, cpu))
PY
}

printf '%5s %-2s | %10s %8s %12s\n' round "" "r/s" "p99 ms" "CPU us/req"
for i in $(seq "$rounds"); do
  for label in A B; do
    binary=$a; [ "$label" = B ] && binary=$b
    read -r _ rps p99 cpu < <(round "$label" "$binary")
    printf '%5s %-2s | %10s %8s %12s\n' "$i" "$label" "$rps" "$p99" "$cpu"
    echo "$label $rps $p99 $cpu" >> "$results"
  done
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
for label in ("A", "B"):
    mine = [r for r in rows if r[0] == label]
    median = lambda k: statistics.median(float(r[k]) for r in mine)
    print("median %s: %.0f r/s, p99 %.2f ms, CPU %.1f us/req" % (label, median(1), median(2), median(3)))
PY
rm -f "$results" "$results.json"
