#!/usr/bin/env bash
# What a voter identity costs, through the edge of one whole Tally (release build,
# benches/lib/local-stack.sh): oha fetches a browser poll's page with a valid voter
# cookie (nothing to issue) and without one (the edge signs and sets a new cookie on
# every answer), then posts ballots on an `open` poll (the classic form `vote=a`, no
# cookie: the vote service makes every request a new voter), a `browser` poll (with the
# cookie), a `passcode` poll (cookie and passcode) and a `code` poll (a voter code).
# Every case runs in each round, one after another, against the same stack, so the
# ratios compare like with like on a noisy machine; prints the medians and each case's
# ratio to its baseline (pages: with a cookie; ballots: the open poll). The edge's
# rate limits are off: they would refuse a bench's one voter long before it measured.
#
#   benches/identity.sh [duration=10s] [connections=50] [rounds=2]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/prerequisites.sh
. benches/lib/local-stack.sh
duration=${1:-10s}; connections=${2:-50}; rounds=${3:-2}

ensure_oha

export EDGE_VOTER_RATE_LIMIT=off EDGE_NEW_VOTER_RATE_LIMIT=off EDGE_CREATE_RATE_LIMIT=off
start_local_stack >/dev/null
base=http://127.0.0.1:$edge_port
json=(-H 'content-type: application/json' -H 'accept: application/json')

# Creates a poll with `identity` (and its extra JSON fields); prints the answer.
create() {
  curl -fsS "${json[@]}" -X POST "$base/polls" \
    -d "{\"question\":\"Bench?\",\"options\":[\"Yes\",\"No\"],\"identity\":\"$1\"$2}"
}
# The answer's `poll`, or (with `code`) its first voter code.
field() {
  python3 -c 'import json,sys; a=json.load(sys.stdin); print(a["voter_codes"][0] if sys.argv[1] == "code" else a["poll"])' "$1"
}
browser_poll=$(create browser "" | field poll)
passcode_poll=$(create passcode ',"passcode":"tiger lake"' | field poll)
code_answer=$(create code ',"voter_codes":1')
code_poll=$(field poll <<< "$code_answer")
voter_code=$(field code <<< "$code_answer")

# The voter cookie a page hands out, as the header a browser would send back.
cookie=$(curl -fsS -o /dev/null -D - "$base/p/$browser_poll" \
  | sed -n 's/^[Ss]et-[Cc]ookie: \(tally_voter=[^;]*\).*/\1/p' | tr -d '\r')
[ -n "$cookie" ] || { echo "the page handed out no voter cookie" >&2; exit 1; }

# Waits until every created poll takes a ballot (the worker applies them within moments).
ballot() { curl -s -o /dev/null -w '%{http_code}' "${json[@]}" -H "cookie: $cookie" -X POST "$base/vote" -d "$1"; }
for _ in $(seq 1 100); do
  [ "$(ballot "{\"poll\":\"$browser_poll\",\"option\":\"a\"}")" = 202 ] \
    && [ "$(ballot "{\"poll\":\"$passcode_poll\",\"option\":\"a\",\"passcode\":\"tiger lake\"}")" = 202 ] \
    && [ "$(ballot "{\"poll\":\"$code_poll\",\"option\":\"a\",\"code\":\"$voter_code\"}")" = 202 ] \
    && break
  sleep 0.2
done

# name | baseline name | oha arguments (after the common ones)
cases=(
  "page, with a voter cookie|page, with a voter cookie|-H|cookie: $cookie|$base/p/$browser_poll"
  "page, cookie issued|page, with a voter cookie|$base/p/$browser_poll"
  "ballot, open (vote=a, no cookie)|ballot, open (vote=a, no cookie)|-m|POST|-H|content-type: application/x-www-form-urlencoded|-d|vote=a|$base/vote"
  "ballot, browser (cookie)|ballot, open (vote=a, no cookie)|-m|POST|-H|content-type: application/json|-H|cookie: $cookie|-d|{\"poll\":\"$browser_poll\",\"option\":\"b\"}|$base/vote"
  "ballot, passcode (cookie + passcode)|ballot, open (vote=a, no cookie)|-m|POST|-H|content-type: application/json|-H|cookie: $cookie|-d|{\"poll\":\"$passcode_poll\",\"option\":\"b\",\"passcode\":\"tiger lake\"}|$base/vote"
  "ballot, code (voter code)|ballot, open (vote=a, no cookie)|-m|POST|-H|content-type: application/json|-d|{\"poll\":\"$code_poll\",\"option\":\"b\",\"code\":\"$voter_code\"}|$base/vote"
)

results=$(mktemp); report=$(mktemp); trap 'rm -f "$results" "$report"; cleanup' EXIT
for round in $(seq 1 "$rounds"); do
  for case in "${cases[@]}"; do
    IFS='|' read -r -a parts <<< "$case"
    name=${parts[0]} baseline=${parts[1]}
    echo "== round $round: $name ($duration, $connections connections)"
    oha --no-tui --output-format json -w -z "$duration" -c "$connections" "${parts[@]:2}" > "$report"
    python3 benches/lib/oha_table.py row "$name" "$baseline" "$report" >> "$results"
  done
done

python3 benches/lib/oha_table.py table "$results"
