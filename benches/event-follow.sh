#!/usr/bin/env bash
# A room following its presenter: starts a whole Tally (release build) on free ports
# against its own Redis and Postgres, creates an event, holds N participants on its live
# feed through the edge, has the presenter press "next" once per question, and prints the
# time from each press to every participant showing the new question (p50/p99) and the
# result service's memory per participant. Cleans up after itself.
#
#   benches/event-follow.sh [participants=5000] [questions=5]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/prerequisites.sh
. benches/lib/local-stack.sh
participants=${1:-5000}; questions=${2:-5}

start_local_stack event-follow

echo "== $participants participants, $questions questions (2 cores: services, Redis, Postgres and this load share them)"
"$bin/event-follow" --edge "127.0.0.1:$edge_port" --participants "$participants" \
  --questions "$questions" --result-pid "$result_pid"
