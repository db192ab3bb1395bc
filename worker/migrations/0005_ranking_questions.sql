-- Ranking questions: a ballot orders every option of the poll, favourite first, and
-- rank_tallies counts, per option, the ballots that put it at each place (0 = first).
-- The worker keeps them in the same transaction as the ballots, so Borda scores and the
-- per-place distribution (tally_model::ranking) always equal a recount.

ALTER TABLE polls DROP CONSTRAINT polls_choice_check;
ALTER TABLE polls ADD CONSTRAINT polls_choice_check
    CHECK (choice IN ('single', 'multiple', 'ranking'));

CREATE TABLE rank_tallies (
    poll_id    text NOT NULL,
    option_id  text NOT NULL,
    place      integer NOT NULL CHECK (place >= 0),
    votes      bigint NOT NULL DEFAULT 0 CHECK (votes >= 0),
    PRIMARY KEY (poll_id, option_id, place),
    FOREIGN KEY (poll_id, option_id) REFERENCES poll_options (poll_id, id) ON DELETE CASCADE
);

GRANT SELECT ON rank_tallies TO tally_reader;
