#!/usr/bin/env bash
# Load test of the vote path through the edge: oha posts the classic form `vote=a`
# to http://127.0.0.1:8080/vote with no cookie, so every request is a new voter.
# Requests in flight at the deadline are waited for (-w), so every vote the server
# accepted is in the count. Prints votes/s, p50 and p99, then waits for the worker to drain and prints whether
# the votes counted equal the votes accepted.
#
#   benches/load.sh [duration=10s] [connections=50]
#
# Needs a running stack on :8080 with the per-client rate limit off:
#   EDGE_RATE_LIMIT=off scripts/dev --release
set -euo pipefail
duration=${1:-10s}
connections=${2:-50}
base=${TALLY_URL:-http://127.0.0.1:8080}
case "$base" in http://127.*|http://localhost*) ;; *) echo "load tests target 127.0.0.1 only" >&2; exit 2;; esac

if ! command -v oha >/dev/null; then
  echo "installing oha (cargo install oha --locked)"
  cargo install oha --locked >/dev/null
fi
export PATH="$HOME/.cargo/bin:$PATH"

total() { curl -fsS "$base/results" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'; }
if ! before=$(total); then
  echo "no Tally answers at $base; start one with EDGE_RATE_LIMIT=off scripts/dev --release" >&2; exit 1
fi

report=$(mktemp); trap 'rm -f "$report"' EXIT
oha --no-tui --output-format json -w -z "$duration" -c "$connections" -m POST \
  -H 'content-type: application/x-www-form-urlencoded' -d 'vote=a' "$base/vote" > "$report"

accepted=$(python3 - "$report" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]; p = r["latencyPercentiles"]; codes = r.get("statusCodeDistribution", {})
ok = int(codes.get("202", 0))
if codes.get("429"):
    print("the edge rate-limited the load: start the stack with EDGE_RATE_LIMIT=off", file=sys.stderr)
print(f"requests/s {s['requestsPerSec']:.0f}  votes accepted/s {ok / max(s['total'], 1e-9):.0f}"
      f"  p50 {p['p50']*1000:.2f} ms  p99 {p['p99']*1000:.2f} ms  statuses {codes}", file=sys.stderr)
print(ok)
PY
)
echo "accepted $accepted votes; waiting for the worker to count them"
expected=$((before + accepted))
for _ in $(seq 1 120); do
  now=$(total)
  [ "$now" -ge "$expected" ] && break
  sleep 0.5
done
now=$(total)
echo "counted $((now - before)) of $accepted accepted: $([ "$now" -eq "$expected" ] && echo EQUAL || echo DIFFERENT)"
[ "$now" -eq "$expected" ]
