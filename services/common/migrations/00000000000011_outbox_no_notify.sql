-- The relay is woken in-process by the transaction that wrote the row (see
-- outbox.rs), no longer by NOTIFY: PostgreSQL serialises every committing
-- transaction that has notified on one cluster-wide lock, held through the
-- commit's WAL flush, so the trigger made every event-writing transaction of
-- every service wait for the others' commits in turn.
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
DROP FUNCTION IF EXISTS outbox_notify();
