#!/usr/bin/env bash
# DEV ONLY. Run by each backend service's Job `<name>-db-setup`
# (k8s/components/backend-service/dev.yaml): creates the service's role and
# database in the dev PostgreSQL if they are missing, with the role, password
# and database of its DATABASE_URL (Secret `<name>-db-app`), and sets the
# role's password to that one. Idempotent: safe on every apply, and a service
# added to a running dev cluster gets its database too.
# Connects as the superuser: PGHOST, PGUSER, PGPASSWORD.
set -euo pipefail
until pg_isready --quiet; do
  echo "waiting for PostgreSQL at $PGHOST"
  sleep 2
done
# postgresql://<role>:<password>@<host>:<port>/<database>
rest="${DATABASE_URL#*://}"
userinfo="${rest%%@*}"
role="${userinfo%%:*}"
password="${userinfo#*:}"
database="${rest##*/}"
database="${database%%\?*}"
psql -v ON_ERROR_STOP=1 --dbname postgres \
  -v role="$role" -v password="$password" -v database="$database" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role')\gexec
ALTER ROLE :"role" PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database')\gexec
SQL
# The app role `serve` connects as (APP_DATABASE_URL, Secret
# `<name>-db-serve`): owns nothing, no BYPASSRLS, not superuser; the
# migrations grant it DML. Cluster-wide, shared by the services' databases.
app_rest="${APP_DATABASE_URL#*://}"
app_userinfo="${app_rest%%@*}"
app_role="${app_userinfo%%:*}"
app_password="${app_userinfo#*:}"
psql -v ON_ERROR_STOP=1 --dbname postgres \
  -v role="$app_role" -v password="$app_password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role')\gexec
ALTER ROLE :"role" NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT PASSWORD :'password';
SQL
echo "roles and database $role, $app_role / $database ready"
