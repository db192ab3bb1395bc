#!/usr/bin/env bash
# Live results under load: starts a whole Tally (release build) on free ports against its
# own Redis and Postgres in a scratch directory, holds N WebSocket clients on the default
# poll's live feed through the edge while votes arrive at a steady rate, and prints the
# delay from a vote's 202 to the first live update that counts it (p50/p99 over every
# client) and the result service's memory per connected client. Cleans up after itself.
#
#   benches/live-latency.sh [clients=1000] [votes_per_second=1000] [seconds=10]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/prerequisites.sh
. benches/lib/local-stack.sh
clients=${1:-1000}; rate=${2:-1000}; seconds=${3:-10}

start_local_stack live-latency

echo "== $clients clients, $rate votes/s for $seconds s (2 cores: services, Redis, Postgres and this load share them)"
"$bin/live-latency" --edge "127.0.0.1:$edge_port" --clients "$clients" --rate "$rate" \
  --seconds "$seconds" --result-pid "$result_pid"
