-- The inbox is pruned by age (INBOX_RETENTION_HOURS).
CREATE INDEX inbox_processed_at ON inbox (processed_at);
