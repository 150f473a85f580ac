-- Row-level security, the second wall behind the services' own scope checks
-- (services/README.md, "Row-level security").
--
-- Migrations run as the owner role (bianmin_owner); services serve as
-- bianmin_app, which owns nothing and gets only DML here. Tables created by
-- later migrations get the same grants through the default privileges (they
-- apply to tables the role running this creates, i.e. the owner).
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO bianmin_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO bianmin_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO bianmin_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO bianmin_app;

-- The one predicate every center-scoped table's policy uses, so the rule is
-- written once: a row is visible (and may be written) when its center is
-- among the transaction's centers, or the transaction acts for every center.
-- Both settings are transaction-local (set_config(..., true), see
-- bianmin_common::db::begin): a pooled connection carries neither into the
-- next transaction, and with neither set nothing is visible. After such a
-- transaction ends PostgreSQL leaves the setting as '' (not NULL) on that
-- connection; '' splits into no centers, so that too sees nothing.
-- `app.center_id` is one center or a comma-separated list (a partner's
-- grant); center ids never contain a comma (the catalog's format).
CREATE FUNCTION center_visible(center TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(current_setting('app.all_centers', true), '') = 'on'
        OR center = ANY (string_to_array(coalesce(current_setting('app.center_id', true), ''), ','))
$$;
