-- The catalog becomes administered (create, change, retire), each type with
-- its materials checklist; every change is kept in service_type_history.
ALTER TABLE service_types
    ADD COLUMN materials   JSONB NOT NULL DEFAULT '[]',
    ADD COLUMN version     INTEGER NOT NULL DEFAULT 1,
    ADD COLUMN retired_at  TIMESTAMPTZ;

-- One row per change: who, when, what (the type as it stood after it).
-- Written in the same transaction as the change.
CREATE TABLE service_type_history (
    id         BIGSERIAL PRIMARY KEY,
    code       TEXT NOT NULL REFERENCES service_types (code),
    version    INTEGER NOT NULL,
    change     TEXT NOT NULL CHECK (change IN ('seeded', 'created', 'updated', 'retired')),
    actor      TEXT NOT NULL,
    role       TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    reason     TEXT NOT NULL DEFAULT '',
    snapshot   JSONB NOT NULL,
    UNIQUE (code, version)
);

-- Departments an application may name (一窗受理), as data.
CREATE TABLE departments (
    code  TEXT PRIMARY KEY,
    name  TEXT NOT NULL
);

-- What an application was submitted under: its departments, the staff
-- member who received it, and the type's policy and checklist at that
-- moment (a later change of the type does not reach it).
ALTER TABLE applications
    ADD COLUMN departments              TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN received_by              TEXT,
    ADD COLUMN preliminary_review_days  INTEGER,
    ADD COLUMN extended_review_days     INTEGER,
    ADD COLUMN decision_days            INTEGER,
    ADD COLUMN checklist                JSONB;

-- Uploaded files: content in the object store, facts here. The same
-- content for the same item of the same application is one material.
CREATE TABLE materials (
    id              UUID PRIMARY KEY,
    application_id  UUID NOT NULL REFERENCES applications (id),
    item_code       TEXT NOT NULL,
    file_name       TEXT NOT NULL DEFAULT '',
    content_type    TEXT NOT NULL CHECK (content_type IN ('application/pdf', 'image/jpeg', 'image/png')),
    size_bytes      BIGINT NOT NULL CHECK (size_bytes > 0),
    sha256          TEXT NOT NULL,
    object_key      TEXT NOT NULL,
    uploaded_by     TEXT NOT NULL,
    uploaded_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (application_id, item_code, sha256)
);
CREATE INDEX materials_application ON materials (application_id, uploaded_at);
