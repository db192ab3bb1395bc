-- Polls whose identity is 'code' (model/src/voter_code.rs): the hashes of their voter
-- codes, bound to the poll; the codes themselves are shown once to the creator.
ALTER TABLE polls DROP CONSTRAINT polls_identity_check;
ALTER TABLE polls ADD CONSTRAINT polls_identity_check
    CHECK (identity IN ('browser', 'code', 'open'));

CREATE TABLE poll_voter_codes (
    poll_id   text NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    code_hash text NOT NULL CHECK (code_hash ~ '^[0-9a-f]{64}$'),
    PRIMARY KEY (poll_id, code_hash)
);
