-- The owner's ballot export gives each ballot's time to the minute only: exact times,
-- next to a room's memory of who voted when, could tell whose ballot is whose. The view
-- is the only way the result service's role reads ballots, so the rounding is here.

CREATE OR REPLACE VIEW ballot_answers AS
    SELECT poll_id, options, date_trunc('minute', cast_at) AS cast_at FROM ballots;
