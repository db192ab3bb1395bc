#!/usr/bin/env bash
# First start of the Postgres container only (postgres image's /docker-entrypoint-initdb.d):
# the result service's login. It is a member of `tally_reader`, the NOLOGIN role the
# worker's migrations grant SELECT on polls, options and tallies (the migration tolerates
# the role existing already). The password comes from TALLY_RESULT_DB_PASSWORD.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v result_password="${TALLY_RESULT_DB_PASSWORD:?set TALLY_RESULT_DB_PASSWORD}" <<'SQL'
CREATE ROLE tally_reader NOLOGIN;
SELECT format('CREATE ROLE tally_result LOGIN PASSWORD %L IN ROLE tally_reader', :'result_password') \gexec
SQL
