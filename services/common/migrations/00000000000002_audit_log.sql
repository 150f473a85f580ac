-- The audit log: permission denials, sensitive reads and partner exchanges.
-- Append-only: each row stores the hash of the row before it, so changing,
-- removing or inserting a row breaks the chain (`bianmin-<svc> audit verify`),
-- and UPDATE, DELETE and TRUNCATE are refused outright.
CREATE TABLE audit_log (
    seq        BIGSERIAL PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    actor      TEXT NOT NULL,
    role       TEXT NOT NULL,
    action     TEXT NOT NULL,
    record     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '',
    trace_id   TEXT NOT NULL DEFAULT '',
    prev_hash  BYTEA NOT NULL,
    hash       BYTEA NOT NULL UNIQUE
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
