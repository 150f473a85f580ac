-- The service catalog (服务目录): centers and service types.
CREATE TABLE centers (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    district  TEXT NOT NULL,
    address   TEXT NOT NULL DEFAULT ''
);

CREATE TABLE service_types (
    code                     TEXT PRIMARY KEY,
    name                     TEXT NOT NULL,
    domain                   TEXT NOT NULL,
    class                    TEXT NOT NULL CHECK (class IN ('基础', '辅助', '特色')),
    preliminary_review_days  INTEGER NOT NULL CHECK (preliminary_review_days > 0),
    extended_review_days     INTEGER NOT NULL CHECK (extended_review_days >= preliminary_review_days),
    decision_days            INTEGER NOT NULL CHECK (decision_days > 0),
    sensitive                BOOLEAN NOT NULL DEFAULT false,
    active                   BOOLEAN NOT NULL DEFAULT true
);

CREATE SEQUENCE application_no_seq;

-- Applications. Resident ID and phone numbers are never stored in plain
-- text: sealed (AES-256-GCM) with the key id, a keyed hash for look-up, and
-- the masked form for display.
CREATE TABLE applications (
    id                 UUID PRIMARY KEY,
    application_no     TEXT NOT NULL UNIQUE,
    center_id          TEXT NOT NULL REFERENCES centers (id),
    service_type       TEXT NOT NULL REFERENCES service_types (code),
    channel            TEXT NOT NULL,
    applicant_name     TEXT NOT NULL,
    id_number_sealed   BYTEA NOT NULL,
    id_number_key_id   TEXT NOT NULL,
    id_number_hash     BYTEA NOT NULL,
    id_number_masked   TEXT NOT NULL,
    phone_sealed       BYTEA NOT NULL,
    phone_key_id       TEXT NOT NULL,
    phone_hash         BYTEA NOT NULL,
    phone_masked       TEXT NOT NULL,
    reason             TEXT NOT NULL,
    status             TEXT NOT NULL,
    review_case_id     UUID,
    review_stage       TEXT,
    review_due_date    DATE,
    idempotency_key    TEXT UNIQUE,
    request_hash       BYTEA,
    submitted_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX applications_id_number_hash ON applications (id_number_hash);
CREATE INDEX applications_center_submitted ON applications (center_id, submitted_at);

-- What the resident sees of their case, oldest first.
CREATE TABLE timeline_entries (
    id              BIGSERIAL PRIMARY KEY,
    application_id  UUID NOT NULL REFERENCES applications (id),
    kind            TEXT NOT NULL,
    title           TEXT NOT NULL,
    detail          TEXT NOT NULL DEFAULT '',
    at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The event that produced the entry, so no event adds it twice.
    event_id        UUID UNIQUE
);
CREATE INDEX timeline_entries_application ON timeline_entries (application_id, id);
