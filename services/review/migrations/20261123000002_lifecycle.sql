-- The whole lifecycle of a case. The case itself (stages, clock, supplement
-- rounds, sign-offs, decision, plan, ledger, acceptance, summary, history)
-- is one JSONB document changed only by the domain's state machine under a
-- row lock; the columns beside it are copies for the queue and the measures.
ALTER TABLE review_cases
    ADD COLUMN state                     JSONB,
    ADD COLUMN overdue                   BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN suspended                 BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN assignee                  TEXT NOT NULL DEFAULT '',
    ADD COLUMN decision_outcome          TEXT,
    ADD COLUMN decided_on_time           BOOLEAN,
    ADD COLUMN working_days_to_decision  INTEGER,
    ADD COLUMN updated_at                TIMESTAMPTZ NOT NULL DEFAULT now(),
    ALTER COLUMN due_date DROP NOT NULL;

-- Cases opened before this migration: preliminary review with the policy
-- defaults for the limits the old rows did not keep.
UPDATE review_cases SET state = jsonb_build_object(
    'stage', 'preliminary_review',
    'accepted_on', accepted_on,
    'policy', jsonb_build_object('preliminary_days', limit_working_days,
                                 'extended_days', GREATEST(limit_working_days, 10),
                                 'decision_days', 30),
    'clock', jsonb_build_object('kind', 'preliminary', 'limit', limit_working_days, 'due', due_date,
                                'suspended', NULL, 'extended_beyond_policy', false),
    'suspended_days', 0, 'overdue', false, 'assignee', '',
    'supplements', '[]'::jsonb, 'sign_offs', '[]'::jsonb, 'decision', NULL, 'plan', NULL,
    'ledger', '[]'::jsonb, 'acceptance', NULL, 'summary', NULL, 'history', '[]'::jsonb)
WHERE state IS NULL;
ALTER TABLE review_cases ALTER COLUMN state SET NOT NULL;

DROP INDEX review_cases_queue;
CREATE INDEX review_cases_queue ON review_cases (center_id, stage, urgent DESC, due_date);

-- Idempotency of actions: a retry with the same key does not act twice.
CREATE TABLE case_actions (
    case_id          UUID NOT NULL REFERENCES review_cases (id),
    idempotency_key  TEXT NOT NULL,
    action           TEXT NOT NULL,
    at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, idempotency_key)
);

-- Durable timers. Re-armed in the transaction of every change; claimed by
-- any replica with FOR UPDATE SKIP LOCKED and stamped fired in the same
-- transaction as the event, so each fires once. A deadline is unique per
-- case, kind, clock and due, so re-arming never fires it twice.
CREATE TABLE timers (
    id         BIGSERIAL PRIMARY KEY,
    case_id    UUID NOT NULL REFERENCES review_cases (id),
    kind       TEXT NOT NULL CHECK (kind IN ('warning', 'breach')),
    clock      TEXT NOT NULL,
    task_id    TEXT NOT NULL DEFAULT '',
    due        TEXT NOT NULL,
    fire_at    TIMESTAMPTZ NOT NULL,
    fired_at   TIMESTAMPTZ,
    fired_by   TEXT,
    UNIQUE (case_id, kind, clock, task_id, due)
);
CREATE INDEX timers_pending ON timers (fire_at) WHERE fired_at IS NULL;
