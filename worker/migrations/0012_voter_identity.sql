-- How a poll tells its voters apart (model/src/identity.rs). Polls and events created
-- before this keep behaving as they did: any request may be a new voter ('open').
-- Created polls and events name theirs: 'browser' unless their creator chose. Copies
-- in Redis without the field read as 'open' too, so they need no rewrite.
ALTER TABLE polls ADD COLUMN identity text NOT NULL DEFAULT 'open'
    CHECK (identity IN ('browser', 'open'));
ALTER TABLE events ADD COLUMN identity text NOT NULL DEFAULT 'open'
    CHECK (identity IN ('browser', 'open'));

