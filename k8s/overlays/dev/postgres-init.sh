#!/usr/bin/env bash
# DEV ONLY. Run once by the postgres image on an empty data directory: one role
# and one database per service, passwords from the postgres-dev-credentials
# Secret (the same ones the intake-db-app / review-db-app URIs carry).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v intake_pw="$INTAKE_DB_PASSWORD" -v review_pw="$REVIEW_DB_PASSWORD" <<'SQL'
CREATE ROLE bianmin_intake LOGIN PASSWORD :'intake_pw';
CREATE DATABASE bianmin_intake OWNER bianmin_intake;
CREATE ROLE bianmin_review LOGIN PASSWORD :'review_pw';
CREATE DATABASE bianmin_review OWNER bianmin_review;
SQL
