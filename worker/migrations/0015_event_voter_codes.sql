-- Events whose identity is 'code' (model/src/voter_code.rs): the hashes of their voter
-- codes, bound to the event. Every question of the event takes each code, also one
-- added later: a question's definition reads its event's codes.
ALTER TABLE events DROP CONSTRAINT events_identity_check;
ALTER TABLE events ADD CONSTRAINT events_identity_check
    CHECK (identity IN ('browser', 'code', 'open', 'passcode'));

CREATE TABLE event_voter_codes (
    event_id  text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    code_hash text NOT NULL CHECK (code_hash ~ '^[0-9a-f]{64}$'),
    PRIMARY KEY (event_id, code_hash)
);
