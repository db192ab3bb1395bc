#!/usr/bin/env bash
# What each VOTE_DURABILITY costs on the vote path: for each setting, starts a whole Tally
# (release build, benches/lib/local-stack.sh) with Redis persisting as that setting needs,
# has oha post the classic form `vote=a` through the edge for a while, and prints votes
# accepted per second, p50 and p99, and the ratio to `written` with `appendfsync everysec`
# (what compose.yaml runs). The settings run one after another in the same run, so the
# ratios compare like with like on a noisy machine. Redis keeps its files on the scratch
# directory's disk (/tmp: it must not be a tmpfs, or fsync costs nothing).
#
#   benches/durability.sh [duration=10s] [connections=50] [rounds=1]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/prerequisites.sh
. benches/lib/local-stack.sh
duration=${1:-10s}; connections=${2:-50}; rounds=${3:-1}

ensure_oha
case "$(df --output=fstype /tmp | tail -1)" in
  tmpfs) echo "/tmp is a tmpfs: fsync would cost nothing there" >&2; exit 2;;
esac

# name | VOTE_DURABILITY | Redis persistence flags | replica (1) or not (0)
settings=(
  "written, no persistence|written|--appendonly no|0"
  "written, appendfsync everysec|written|--appendonly yes --appendfsync everysec|0"
  "fsync, appendfsync always|fsync|--appendonly yes --appendfsync always|0"
  "replicated (WAIT 1), everysec|replicated|--appendonly yes --appendfsync everysec|1"
)

results=$(mktemp); trap 'rm -f "$results"' EXIT

# One setting: a fresh stack, a short warm-up until votes are taken, then the load.
measure() {
  local name=$1 durability=$2 persistence=$3 replica=$4
  (
    export VOTE_DURABILITY=$durability LOCAL_REDIS_PERSISTENCE=$persistence \
      LOCAL_REDIS_REPLICA=$replica
    start_local_stack >/dev/null
    local base=http://127.0.0.1:$edge_port form=(-H 'content-type: application/x-www-form-urlencoded')
    for _ in $(seq 1 100); do
      status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "${form[@]}" -d vote=a "$base/vote")
      [ "$status" = 202 ] && break
      sleep 0.2
    done
    [ "$status" = 202 ] || { echo "$name: votes are not taken ($status)" >&2; exit 1; }
    local report; report=$(mktemp)
    oha --no-tui --output-format json -w -z "$duration" -c "$connections" -m POST \
      "${form[@]}" -d 'vote=a' "$base/vote" > "$report"
    python3 benches/lib/oha_table.py row "$name" "written, appendfsync everysec" "$report" \
      >> "$results"
    rm -f "$report"
  )
}

for round in $(seq 1 "$rounds"); do
  for setting in "${settings[@]}"; do
    IFS='|' read -r name durability persistence replica <<< "$setting"
    echo "== round $round: $name ($duration, $connections connections)"
    measure "$name" "$durability" "$persistence" "$replica"
  done
done

python3 benches/lib/oha_table.py table "$results"
