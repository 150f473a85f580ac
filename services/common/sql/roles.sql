-- The two roles every service database is used through (see
-- services/README.md, "Row-level security"). Idempotent: run by `make up`
-- (deploy/lib.sh), by the test kit before it builds a template, and by the
-- end-to-end harness, as a superuser, on a fresh machine or again.
--
--   bianmin_owner  runs the migrations and so owns every table; it may
--                  create databases (the one-machine default creates each
--                  service's database on first `migrate`).
--   bianmin_app    what `serve` connects as: owns nothing, holds only the
--                  DML grants the shared migration gives it, and is neither
--                  superuser nor BYPASSRLS, so the forced policies hold.
--
-- Roles are cluster-wide, hence the project's prefix. The passwords are the
-- one-machine default only (like postgres:postgres); a district's cluster
-- (CloudNativePG, k8s/) makes its own roles with generated secrets.
DO $roles$
BEGIN
    BEGIN
        CREATE ROLE bianmin_owner LOGIN PASSWORD 'bianmin_owner';
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    BEGIN
        CREATE ROLE bianmin_app LOGIN PASSWORD 'bianmin_app';
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
END
$roles$;
-- Said again for roles made earlier or by hand, so a rerun repairs them.
ALTER ROLE bianmin_owner NOSUPERUSER CREATEDB NOCREATEROLE NOBYPASSRLS;
ALTER ROLE bianmin_app NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT;
