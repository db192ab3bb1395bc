# A whole Tally (release build) on free ports against its own Redis and Postgres in a
# scratch directory, for the load scripts; sourced after scripts/lib/prerequisites.sh.
#
#   start_local_stack BIN...   builds the services and the named bench binaries, starts
#                              everything and waits until the edge answers. Afterwards:
#                              $bin (the release directory), $edge_port, $result_pid;
#                              everything is stopped and removed when the script exits.
#
#   LOCAL_REDIS_PERSISTENCE        Redis's persistence flags (default: none at all), e.g.
#                                  "--appendonly yes --appendfsync always"
#   LOCAL_REDIS_REPLICA=1          also starts a replica of that Redis (same flags)

start_local_stack() {
  ensure_servers
  pg_bin=$(postgres_bin_dir)
  target=${CARGO_TARGET_DIR:-$PWD/target}
  echo "== building (release)"
  local extra=()
  for name in "$@"; do extra+=(--bin "$name"); done
  cargo build --release -q -p tally-edge -p tally-vote -p tally-worker -p tally-result \
    -p tally-benches --bin tally-edge --bin tally-vote --bin tally-worker --bin tally-result "${extra[@]}"
  bin=$target/release

  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  redis_port=$(free_port); pg_port=$(free_port); edge_port=$(free_port)
  vote_port=$(free_port); result_port=$(free_port); worker_port=$(free_port)
  root=$(mktemp -d /tmp/tally-load.XXXXXX)
  chmod 755 "$root"

  # Postgres refuses to run as root: run it as the postgres user (or nobody) then.
  pg_as=()
  if [ "$(id -u)" -eq 0 ]; then
    pg_user=postgres; id -u postgres >/dev/null 2>&1 || pg_user=nobody
    pg_as=(runuser -u "$pg_user" --)
  fi

  # Thousands of WebSockets: the edge holds two descriptors per client, the bench one.
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

  pids=()
  cleanup() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait "${pids[@]}" 2>/dev/null || true
    "${pg_as[@]}" "$pg_bin/pg_ctl" -D "$root/pg" -m immediate stop >/dev/null 2>&1 || true
    redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
    [ -z "${replica_port:-}" ] || redis-cli -p "$replica_port" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$root"
  }
  trap cleanup INT TERM EXIT

  local persistence
  read -r -a persistence <<< "${LOCAL_REDIS_PERSISTENCE:---appendonly no}"
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$root" --save '' "${persistence[@]}" \
    --daemonize yes --logfile "$root/redis.log" --pidfile "$root/redis.pid"
  if [ "${LOCAL_REDIS_REPLICA:-0}" = 1 ]; then
    replica_port=$(free_port); mkdir -p "$root/replica"
    redis-server --port "$replica_port" --bind 127.0.0.1 --dir "$root/replica" --save '' \
      "${persistence[@]}" --replicaof 127.0.0.1 "$redis_port" --daemonize yes \
      --logfile "$root/replica/redis.log" --pidfile "$root/replica/redis.pid"
  fi
  mkdir -p "$root/pg"; [ ${#pg_as[@]} -eq 0 ] || chown "$pg_user" "$root/pg"
  "${pg_as[@]}" "$pg_bin/initdb" -D "$root/pg" -U tally --auth=trust >/dev/null
  "${pg_as[@]}" "$pg_bin/pg_ctl" -D "$root/pg" -l "$root/pg/server.log" -w \
    -o "-p $pg_port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=on" start >/dev/null
  psql_run() { psql -h 127.0.0.1 -p "$pg_port" -U tally -v ON_ERROR_STOP=1 -qAt "$@"; }
  psql_run -d postgres -c "CREATE DATABASE tally"
  psql_run -d tally -c "CREATE ROLE tally_reader NOLOGIN; CREATE ROLE tally_result LOGIN IN ROLE tally_reader"

  local cookie_key=bench-only-cookie-key-0123456789abcdefghij
  export REDIS_URL=redis://127.0.0.1:$redis_port/ RUST_LOG=${RUST_LOG:-warn}
  DATABASE_URL=postgres://tally@127.0.0.1:$pg_port/tally WORKER_LISTEN=127.0.0.1:$worker_port \
    "$bin/tally-worker" & pids+=($!)
  RESULT_DATABASE_URL=postgres://tally_result@127.0.0.1:$pg_port/tally RESULT_LISTEN=127.0.0.1:$result_port \
    "$bin/tally-result" & result_pid=$!; pids+=($result_pid)
  # Without persistence flags Redis keeps no files: votes are then only `written`.
  VOTE_DURABILITY=${VOTE_DURABILITY:-written} \
  VOTE_COOKIE_KEY=$cookie_key VOTE_LISTEN=127.0.0.1:$vote_port \
    "$bin/tally-vote" & pids+=($!)
  EDGE_COOKIE_KEY=$cookie_key EDGE_LISTEN=127.0.0.1:$edge_port EDGE_VOTE_UPSTREAMS=127.0.0.1:$vote_port \
    EDGE_RESULT_UPSTREAMS=127.0.0.1:$result_port EDGE_WWW_DIR=www EDGE_RATE_LIMIT=off \
    "$bin/tally-edge" & pids+=($!)

  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$edge_port/results/default" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$edge_port/results/default" >/dev/null
}
