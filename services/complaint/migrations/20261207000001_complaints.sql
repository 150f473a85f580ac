-- Complaints. The lifecycle (status, ownership, classification,
-- investigators, finding, answer, history) is one JSONB document changed
-- only by the domain under a row lock; the columns beside it are copies for
-- lists and look-ups. The complainant is sealed (AES-GCM, bound to table,
-- column and row), looked up by keyed hash, and kept masked for answers.
CREATE TABLE complaints (
    id                 UUID PRIMARY KEY,
    complaint_no       TEXT NOT NULL UNIQUE,
    center_id          TEXT NOT NULL,
    channel            TEXT NOT NULL,
    content            TEXT NOT NULL,
    demand             TEXT NOT NULL,
    sensitive          BOOLEAN NOT NULL,
    status             TEXT NOT NULL,
    owner              TEXT,
    due_date           DATE,
    state              JSONB NOT NULL,
    name_sealed        BYTEA NOT NULL,
    name_key_id        TEXT NOT NULL,
    name_masked        TEXT NOT NULL,
    id_number_sealed   BYTEA NOT NULL,
    id_number_key_id   TEXT NOT NULL,
    id_number_hash     BYTEA NOT NULL,
    id_number_masked   TEXT NOT NULL,
    phone_sealed       BYTEA NOT NULL,
    phone_key_id       TEXT NOT NULL,
    phone_hash         BYTEA NOT NULL,
    phone_masked       TEXT NOT NULL,
    filed_by           TEXT NOT NULL,
    idempotency_key    TEXT,
    request_hash       BYTEA NOT NULL,
    -- The complaint as the filing left it: a retry answers this.
    first_state        JSONB NOT NULL,
    filed_at           TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (filed_by, idempotency_key)
);
CREATE INDEX complaints_list ON complaints (center_id, status, filed_at DESC);
CREATE INDEX complaints_filed_by ON complaints (filed_by, filed_at DESC);
CREATE INDEX complaints_id_number ON complaints (id_number_hash);

-- The day's sequence of complaint numbers per center.
CREATE TABLE complaint_numbers (
    center_id  TEXT NOT NULL,
    day        DATE NOT NULL,
    last       BIGINT NOT NULL,
    PRIMARY KEY (center_id, day)
);

ALTER TABLE complaints ADD CONSTRAINT complaints_id_center UNIQUE (id, center_id);

-- Durable timers (review's are the model): claimed with FOR UPDATE SKIP
-- LOCKED and stamped fired in the same transaction as the breach, its
-- notice and its event, so each fires once across restarts and replicas.
CREATE TABLE complaint_timers (
    id            BIGSERIAL PRIMARY KEY,
    complaint_id  UUID NOT NULL,
    -- The complaint's center, kept equal to it by the foreign key (a
    -- complaint's timer is written in its filing's transaction, where a
    -- policy joining to the complaint could not be relied on).
    center_id     TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('breach')),
    due           DATE NOT NULL,
    fire_at       TIMESTAMPTZ NOT NULL,
    fired_at      TIMESTAMPTZ,
    fired_by      TEXT,
    UNIQUE (complaint_id, kind, due),
    FOREIGN KEY (complaint_id, center_id) REFERENCES complaints (id, center_id)
);
CREATE INDEX complaint_timers_pending ON complaint_timers (fire_at) WHERE fired_at IS NULL;

-- Row-level security (services/README.md, "Row-level security"): every
-- table of a center's rows forced under the shared center_visible(), so a
-- query that forgets its center returns nothing. Center-scoped:
-- complaints, complaint_numbers, complaint_timers. Shared: outbox, inbox,
-- audit_log, notifications (system work for every center).
ALTER TABLE complaints ENABLE ROW LEVEL SECURITY;
ALTER TABLE complaints FORCE ROW LEVEL SECURITY;
CREATE POLICY center_scope ON complaints
    USING (center_visible(center_id)) WITH CHECK (center_visible(center_id));

ALTER TABLE complaint_numbers ENABLE ROW LEVEL SECURITY;
ALTER TABLE complaint_numbers FORCE ROW LEVEL SECURITY;
CREATE POLICY center_scope ON complaint_numbers
    USING (center_visible(center_id)) WITH CHECK (center_visible(center_id));

ALTER TABLE complaint_timers ENABLE ROW LEVEL SECURITY;
ALTER TABLE complaint_timers FORCE ROW LEVEL SECURITY;
CREATE POLICY center_scope ON complaint_timers
    USING (center_visible(center_id)) WITH CHECK (center_visible(center_id));
