-- Hands a database made before the owner role existed (by `postgres`, as
-- `make up` once did) and everything in its public schema to
-- bianmin_owner, so that its migrations can run as the owner. Run as the
-- superuser inside the database; idempotent. deploy/lib.sh runs it for
-- `make up`'s own databases; deploy/RUNBOOK.md ("Databases") for others.
DO $$
DECLARE r record;
BEGIN
  EXECUTE format('ALTER DATABASE %I OWNER TO bianmin_owner', current_database());
  FOR r IN SELECT c.oid::regclass AS name FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
             AND pg_get_userbyid(c.relowner) <> 'bianmin_owner' LOOP
    EXECUTE format('ALTER TABLE %s OWNER TO bianmin_owner', r.name);
  END LOOP;
  -- A sequence a column owns followed its table; the others one by one.
  FOR r IN SELECT c.oid::regclass AS name FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind = 'S'
             AND pg_get_userbyid(c.relowner) <> 'bianmin_owner'
             AND NOT EXISTS (SELECT 1 FROM pg_depend d
                             WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')) LOOP
    EXECUTE format('ALTER SEQUENCE %s OWNER TO bianmin_owner', r.name);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS name FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> 'bianmin_owner' LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO bianmin_owner', r.name);
  END LOOP;
END $$;
