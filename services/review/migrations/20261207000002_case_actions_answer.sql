-- What an action answered, so that a retry under the same idempotency key
-- answers exactly that (the case as the first call left it), not the case
-- as it is by the time of the retry. Rows written before this column
-- existed have none; their retries answer the current case.
ALTER TABLE case_actions ADD COLUMN answer JSONB;
