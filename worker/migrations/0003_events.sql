-- Events: a join code for a room, a title, the owner token's hash, and the presenter's
-- state (which question is shown, whether its counts are revealed, whether the event is
-- locked). Each question is a poll with event_id and event_position set. Every state
-- field remembers the stream entry that last set it, so that a redelivered or overtaken
-- command never undoes a later one, and commands about different fields never block
-- each other.

CREATE TABLE events (
    id                text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9]{10}$'),
    code              text NOT NULL UNIQUE CHECK (code ~ '^[0-9]{8}$'),
    title             text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    owner_hash        text NOT NULL CHECK (owner_hash ~ '^[0-9a-f]{64}$'),
    -- Position (0-based) of the question shown; NULL before the first is shown.
    current_position  integer CHECK (current_position >= 0),
    results_visible   boolean NOT NULL DEFAULT true,
    locked            boolean NOT NULL DEFAULT false,
    -- People with at least one ballot in the event (rows of event_participants).
    participants      bigint NOT NULL DEFAULT 0 CHECK (participants >= 0),
    -- Grows with every committed change; the Redis copy never goes back to an older one.
    version           bigint NOT NULL DEFAULT 0,
    show_entry_ms     bigint NOT NULL DEFAULT 0,
    show_entry_seq    bigint NOT NULL DEFAULT 0,
    reveal_entry_ms   bigint NOT NULL DEFAULT 0,
    reveal_entry_seq  bigint NOT NULL DEFAULT 0,
    lock_entry_ms     bigint NOT NULL DEFAULT 0,
    lock_entry_seq    bigint NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE polls
    ADD COLUMN event_id        text REFERENCES events (id) ON DELETE CASCADE,
    ADD COLUMN event_position  integer CHECK (event_position >= 0),
    ADD CONSTRAINT polls_event_position_with_event
        CHECK ((event_id IS NULL) = (event_position IS NULL));

CREATE UNIQUE INDEX polls_event_question ON polls (event_id, event_position)
    WHERE event_id IS NOT NULL;

-- Who has voted in an event, to count participants exactly once each.
CREATE TABLE event_participants (
    event_id  text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    voter     text NOT NULL,
    PRIMARY KEY (event_id, voter)
);

-- The result service reads events but never the owner token's hash, nor who voted.
GRANT SELECT (event_id, event_position) ON polls TO tally_reader;
GRANT SELECT (id, code, title, current_position, results_visible, locked, participants,
              version, created_at, updated_at)
   ON events TO tally_reader;
