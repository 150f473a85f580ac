-- Urgent cases, the open supplement request (补正) as the resident reads it,
-- and the resident's answer to it.
ALTER TABLE applications
    ADD COLUMN urgent                     BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN urgent_reason              TEXT NOT NULL DEFAULT '',
    -- What review asked for, while the status is awaiting_supplement.
    ADD COLUMN missing_items              TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN supplement_reason          TEXT NOT NULL DEFAULT '',
    -- Working days left on the suspended clock when it runs again.
    ADD COLUMN supplement_remaining_days  INTEGER,
    -- The answer given (items and note), so a retry of it is recognised.
    ADD COLUMN supplement_answer          JSONB;
