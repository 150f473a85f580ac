-- Notifications to residents and staff: written in the same transaction as
-- the state change they announce (an outbox of messages to people), then
-- handed to the configured sender. A resident's phone number is kept only
-- sealed (with its key id and the context it was sealed under) and masked.
CREATE TABLE notifications (
    id                 BIGSERIAL PRIMARY KEY,
    -- One message per fact: a redelivered event adds nothing.
    dedupe_key         TEXT NOT NULL UNIQUE,
    -- console: the staff work console (messages to a role at a center).
    channel            TEXT NOT NULL CHECK (channel IN ('sms', 'email', 'wechat', 'console')),
    -- Masked address, or a staff member / role by name.
    recipient          TEXT NOT NULL,
    recipient_sealed   BYTEA,
    recipient_key_id   TEXT,
    recipient_context  TEXT,
    template           TEXT NOT NULL,
    params             JSONB NOT NULL DEFAULT '{}',
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at            TIMESTAMPTZ,
    attempts           INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT
);
CREATE INDEX notifications_unsent ON notifications (id) WHERE sent_at IS NULL;
