-- An event's questions may change after its creation, until the room has seen them:
-- added, replaced by a new poll, removed, or put in a new order.
--
-- A question is marked shown when the presenter first shows it; from then on it may
-- take ballots and is never edited or removed. Questions of events already running
-- count as shown up to the one shown now, and wherever a ballot exists.
ALTER TABLE polls ADD COLUMN event_shown boolean NOT NULL DEFAULT false;
UPDATE polls p SET event_shown = true
  FROM events e
 WHERE p.event_id = e.id
   AND (p.event_position <= e.current_position OR p.ballots > 0);

-- A new order moves every question at once: positions must be unique when each
-- statement ends, not after each row.
DROP INDEX polls_event_question;
ALTER TABLE polls ADD CONSTRAINT polls_event_question
    UNIQUE (event_id, event_position) DEFERRABLE INITIALLY IMMEDIATE;

-- The order remembers the stream entry that last set it, so an overtaken order never
-- undoes a later one.
ALTER TABLE events
    ADD COLUMN order_entry_ms   bigint NOT NULL DEFAULT 0,
    ADD COLUMN order_entry_seq  bigint NOT NULL DEFAULT 0;

-- Polls of questions removed or replaced: a redelivered entry that adds one of them
-- never brings it back.
CREATE TABLE event_removed_questions (
    poll_id   text PRIMARY KEY,
    event_id  text NOT NULL REFERENCES events (id) ON DELETE CASCADE
);
