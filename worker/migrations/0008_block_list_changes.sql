-- The owner may change an event's block list while it runs; like every presenter
-- state, the list remembers the stream entry that last set it, so a redelivered or
-- overtaken change never undoes a later one.

ALTER TABLE events
    ADD COLUMN block_entry_ms   bigint NOT NULL DEFAULT 0,
    ADD COLUMN block_entry_seq  bigint NOT NULL DEFAULT 0;
