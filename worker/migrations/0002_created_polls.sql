-- Polls that people create: a closing time, results hidden until close, the SHA-256
-- (hex) of the admin token, and the stream entry that last opened or closed the poll,
-- so that a redelivered close can never undo a later reopen (nor the reverse).

ALTER TABLE polls
    ADD COLUMN closes_at         timestamptz,
    ADD COLUMN hide_results      boolean NOT NULL DEFAULT false,
    ADD COLUMN admin_hash        text CHECK (admin_hash ~ '^[0-9a-f]{64}$'),
    ADD COLUMN status_entry_ms   bigint NOT NULL DEFAULT 0,
    ADD COLUMN status_entry_seq  bigint NOT NULL DEFAULT 0;

-- The result service reads every column but the admin token's hash: it checks tokens
-- against the poll's definition in Redis, so a leak of its role leaks no token hash.
REVOKE SELECT ON polls FROM tally_reader;
GRANT SELECT (id, question, choice, open, ballots, version, created_at, updated_at,
              closes_at, hide_results)
   ON polls TO tally_reader;
