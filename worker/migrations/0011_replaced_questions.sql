-- A replaced question remembers the question that took its place, so that a show or an
-- order asked before the replacement, but applied after it, goes to the new question.
ALTER TABLE event_removed_questions ADD COLUMN replaced_by text;

-- Event copies in Redis learn which questions were shown (migration 0010): a higher
-- version makes the worker's start-up write replace the copies it finds.
UPDATE events SET version = version + 1;
