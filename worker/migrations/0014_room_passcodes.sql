-- Polls and events whose identity is 'passcode' (model/src/passcode.rs): the hash of
-- the room's passcode, bound to the poll, or on an event and each of its questions to
-- the event. The passcode itself is shown to the creator and on the room's screen.
ALTER TABLE polls DROP CONSTRAINT polls_identity_check;
ALTER TABLE polls ADD CONSTRAINT polls_identity_check
    CHECK (identity IN ('browser', 'code', 'open', 'passcode'));
ALTER TABLE events DROP CONSTRAINT events_identity_check;
ALTER TABLE events ADD CONSTRAINT events_identity_check
    CHECK (identity IN ('browser', 'open', 'passcode'));

ALTER TABLE polls ADD COLUMN passcode_hash text
    CHECK (passcode_hash ~ '^[0-9a-f]{64}$');
ALTER TABLE events ADD COLUMN passcode_hash text
    CHECK (passcode_hash ~ '^[0-9a-f]{64}$');
ALTER TABLE polls ADD CONSTRAINT polls_passcode_check
    CHECK ((identity = 'passcode') = (passcode_hash IS NOT NULL));
ALTER TABLE events ADD CONSTRAINT events_passcode_check
    CHECK ((identity = 'passcode') = (passcode_hash IS NOT NULL));

-- The pages show a code or passcode field where the poll takes one.
GRANT SELECT (identity) ON polls TO tally_reader;
