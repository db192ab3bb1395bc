-- The owner's export of every ballot of a poll, without who cast it: the result
-- service's read-only role reads this view (which runs with its owner's rights) and
-- never the ballots table, so voter ids stay with the worker.

CREATE VIEW ballot_answers AS
    SELECT poll_id, options, cast_at FROM ballots;

GRANT SELECT ON ballot_answers TO tally_reader;
