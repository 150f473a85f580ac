-- Who submitted each application (the token's subject). Idempotency keys are
-- scoped to it: another caller's identical key never replays this answer.
ALTER TABLE applications ADD COLUMN submitted_by TEXT NOT NULL DEFAULT '';
ALTER TABLE applications DROP CONSTRAINT applications_idempotency_key_key;
ALTER TABLE applications ADD CONSTRAINT applications_submitter_idempotency_key UNIQUE (submitted_by, idempotency_key);
