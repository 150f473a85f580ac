-- Review cases: one per application, opened when intake announces it.
CREATE TABLE review_cases (
    id                  UUID PRIMARY KEY,
    application_id      UUID NOT NULL UNIQUE,
    application_no      TEXT NOT NULL,
    center_id           TEXT NOT NULL,
    service_type        TEXT NOT NULL,
    stage               TEXT NOT NULL,
    urgent              BOOLEAN NOT NULL DEFAULT false,
    -- The Asia/Shanghai date the application was received; not counted.
    accepted_on         DATE NOT NULL,
    limit_working_days  INTEGER NOT NULL,
    due_date            DATE NOT NULL,
    opened_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX review_cases_queue ON review_cases (center_id, stage, due_date);
