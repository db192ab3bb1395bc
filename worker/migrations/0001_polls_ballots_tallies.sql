-- Polls, their options, one ballot per voter and poll, and the per-option tallies that
-- the worker keeps in the same transaction as the ballots.

CREATE TABLE polls (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    question    text NOT NULL CHECK (length(question) BETWEEN 1 AND 500),
    choice      text NOT NULL CHECK (choice IN ('single', 'multiple')),
    open        boolean NOT NULL DEFAULT true,
    -- Ballots cast (a multiple-choice ballot counts once).
    ballots     bigint NOT NULL DEFAULT 0 CHECK (ballots >= 0),
    -- Grows with every committed change of this poll's counts; caches compare it.
    version     bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE poll_options (
    poll_id   text NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    id        text NOT NULL CHECK (id ~ '^[A-Za-z0-9_-]{1,32}$'),
    label     text NOT NULL CHECK (length(label) BETWEEN 1 AND 200),
    position  integer NOT NULL,
    PRIMARY KEY (poll_id, id)
);

CREATE TABLE ballots (
    poll_id    text NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    voter      text NOT NULL,
    options    text[] NOT NULL CHECK (cardinality(options) >= 1),
    -- The stream entry this ballot came from; only a later entry may replace it.
    entry_ms   bigint NOT NULL,
    entry_seq  bigint NOT NULL,
    vote_id    text NOT NULL,
    cast_at    timestamptz NOT NULL,
    PRIMARY KEY (poll_id, voter)
);

CREATE TABLE tallies (
    poll_id    text NOT NULL,
    option_id  text NOT NULL,
    votes      bigint NOT NULL DEFAULT 0 CHECK (votes >= 0),
    PRIMARY KEY (poll_id, option_id),
    FOREIGN KEY (poll_id, option_id) REFERENCES poll_options (poll_id, id) ON DELETE CASCADE
);

-- The result service's read-only role: it reads polls and counts, never ballots.
-- Roles are cluster-wide, so another database may have created it already.
DO $$
BEGIN
    CREATE ROLE tally_reader NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
GRANT USAGE ON SCHEMA public TO tally_reader;
GRANT SELECT ON polls, poll_options, tallies TO tally_reader;
