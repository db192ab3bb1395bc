-- Scale questions: a poll whose options are the whole numbers scale_min..scale_max
-- (its option labels say the same), with optional labels for the two ends. NULL on
-- every other poll. The bounds here are the model's (tally_model::scale).

ALTER TABLE polls
    ADD COLUMN scale_min        smallint CHECK (scale_min BETWEEN 0 AND 1),
    ADD COLUMN scale_max        smallint CHECK (scale_max <= 10),
    ADD COLUMN scale_min_label  text CHECK (length(scale_min_label) <= 60),
    ADD COLUMN scale_max_label  text CHECK (length(scale_max_label) <= 60),
    ADD CONSTRAINT polls_scale_whole
        CHECK ((scale_min IS NULL) = (scale_max IS NULL)
           AND (scale_min IS NOT NULL OR (scale_min_label IS NULL AND scale_max_label IS NULL))),
    ADD CONSTRAINT polls_scale_points CHECK (scale_max - scale_min >= 2),
    ADD CONSTRAINT polls_scale_single CHECK (scale_min IS NULL OR choice = 'single');

GRANT SELECT (scale_min, scale_max, scale_min_label, scale_max_label) ON polls TO tally_reader;
