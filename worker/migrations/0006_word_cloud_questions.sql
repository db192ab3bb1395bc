-- Word cloud questions: a poll without options whose ballots hold written answers,
-- normalised by the model (tally_model::words), and word_tallies counting each answer.
-- The worker keeps them in the same transaction as the ballots, so a cloud always equals
-- a recount. An owner's hide or show of one answer is kept on its row with the stream
-- entry that last set it, so a redelivered or overtaken one never undoes a later one.
-- An event's block list is kept with the event. The bounds here are the model's.

ALTER TABLE polls DROP CONSTRAINT polls_choice_check;
ALTER TABLE polls ADD CONSTRAINT polls_choice_check
    CHECK (choice IN ('single', 'multiple', 'ranking', 'words'));

ALTER TABLE polls
    ADD COLUMN words_max       smallint CHECK (words_max BETWEEN 1 AND 10),
    ADD COLUMN word_max_chars  smallint CHECK (word_max_chars BETWEEN 1 AND 40),
    ADD CONSTRAINT polls_words_limits
        CHECK ((choice = 'words') = (words_max IS NOT NULL)
           AND (words_max IS NULL) = (word_max_chars IS NULL));

ALTER TABLE events
    ADD COLUMN blocked_words text[] NOT NULL DEFAULT '{}'
        CHECK (cardinality(blocked_words) <= 500);

CREATE TABLE word_tallies (
    poll_id              text NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    word                 text NOT NULL CHECK (length(word) BETWEEN 1 AND 40),
    votes                bigint NOT NULL DEFAULT 0 CHECK (votes >= 0),
    hidden               boolean NOT NULL DEFAULT false,
    moderate_entry_ms    bigint NOT NULL DEFAULT 0,
    moderate_entry_seq   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (poll_id, word)
);

-- The result service reads the answers and whether they are hidden; the block list
-- stays with the worker and the vote service (through the poll definitions in Redis).
GRANT SELECT (words_max, word_max_chars) ON polls TO tally_reader;
GRANT SELECT (poll_id, word, votes, hidden) ON word_tallies TO tally_reader;
