#!/usr/bin/env bash
# The whole district on one machine: `deploy/local.sh up | down | status`.
# `make up` and `make down` call this.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# The backend services (deploy/services.txt), then the gateway in front.
load_backend_services
SERVICES=("${BACKEND_NAMES[@]}" gateway)
HTTP_PORT="${GATEWAY_PORT:-8080}"
check_metrics_ports "$HTTP_PORT"
# Services serve as the app role (owns no table, under row-level security);
# their `migrate` runs first as the owner role. Both are made by
# ensure_db_roles (deploy/lib.sh).
DB_BASE="${DATABASE_URL_BASE:-postgres://bianmin_app:bianmin_app@$PGHOST_ADDR:$PGPORT_NUM}"
MIGRATION_DB_BASE="${MIGRATION_DATABASE_URL_BASE:-postgres://bianmin_owner:bianmin_owner@$PGHOST_ADDR:$PGPORT_NUM}"
BIN_DIR="${BIANMIN_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/release}"


start_one() {
  local name="$1"; shift
  local pid_file="$RUN_DIR/$name.pid" log="$RUN_DIR/logs/$name.log"
  if pid_alive "$pid_file"; then say "$name already running (pid $(cat "$pid_file"))"; return; fi
  # The caller's environment passes through (OTEL_*, RUST_LOG, ...);
  # the variables set here are the local defaults it may override.
  # `&` on the command alone, not on a `cd && …` list: a list is forked
  # into a subshell of its own, and $! would name that subshell, which
  # `make down` then stops while the service keeps running.
  (cd "$ROOT" || exit 1; env "$@" nohup "$BIN_DIR/bianmin-$name" serve >>"$log" 2>&1 & echo $! > "$pid_file")
  say "started $name (pid $(cat "$pid_file")), log: $log"
}

# A port already taken would make a service exit at start while /readyz
# answers from whoever holds it: refuse early and say who.
check_ports_free() {
  local port metrics=()
  for port in "$HTTP_PORT" "${BACKEND_PORTS[@]}"; do metrics+=("$((port + METRICS_PORT_OFFSET))"); done
  for port in "$HTTP_PORT" "${BACKEND_PORTS[@]}" "${metrics[@]}"; do
    if port_open 127.0.0.1 "$port"; then
      die "port $port is already in use ($(ss -ltnpH "sport = :$port" 2>/dev/null | sed -E 's/.*users:\(\("([^"]+)",pid=([0-9]+).*/\1 pid \2/' | head -1)); stop it or \`make down\` first"
    fi
  done
}

up() {
  if ! pid_alive "$RUN_DIR/gateway.pid"; then check_ports_free; fi
  ensure_postgres
  ensure_autovacuum
  ensure_db_roles
  ensure_nats
  local keys; keys="$(ensure_pii_keys)"
  local auth_key; auth_key="$(ensure_auth_key)"
  # Tokens come from the gateway's development identity provider; every
  # service checks them against the keys it publishes.
  local issuer="${AUTH_ISSUER:-http://127.0.0.1:$HTTP_PORT}"
  local jwks="${AUTH_JWKS_URL:-http://127.0.0.1:$HTTP_PORT/.well-known/jwks.json}"
  say "building (${BUILD_PROFILE:-release}; the first build takes several minutes)"
  "$ROOT/deploy/build.sh"
  mkdir -p "$RUN_DIR/logs"
  # Each backend service: the settings they all get, its database
  # (<NAME>_DATABASE_URL overrides), its port from the list, and its own
  # settings from services/<name>/local.env. The gateway finds each one at
  # <NAME>_GRPC_URL.
  local i name port upper db_var mig_var url_var grpc_urls=()
  for i in "${!BACKEND_NAMES[@]}"; do
    name="${BACKEND_NAMES[$i]}" port="${BACKEND_PORTS[$i]}" upper="${BACKEND_NAMES[$i]^^}"
    db_var="${upper}_DATABASE_URL" url_var="${upper}_GRPC_URL"
    load_local_env "$name"
    # Its database (created when missing) and migrations, as the owner.
    mig_var="${upper}_MIGRATION_DATABASE_URL"
    [ -n "${!mig_var:-}" ] || adopt_local_database "bianmin_$name"
    (cd "$ROOT" && env MIGRATION_DATABASE_URL="${!mig_var:-$MIGRATION_DB_BASE/bianmin_$name$PG_LOCAL_OPTS}" \
      "$BIN_DIR/bianmin-$name" migrate) || die "$name migrate failed (deploy/RUNBOOK.md, Databases)"
    start_one "$name" \
      DATABASE_URL="${!db_var:-$DB_BASE/bianmin_$name$PG_LOCAL_OPTS}" \
      GRPC_ADDR="127.0.0.1:$port" \
      METRICS_ADDR="127.0.0.1:$((port + METRICS_PORT_OFFSET))" \
      NATS_URL="${NATS_URL:-nats://127.0.0.1:$NATS_PORT}" \
      PII_KEYS_FILE="${PII_KEYS_FILE:-$keys}" \
      AUTH_ISSUER="$issuer" AUTH_JWKS_URL="$jwks" \
      CALENDAR_DIR="${CALENDAR_DIR:-$ROOT/deploy/calendars}" \
      "${LOCAL_ENV[@]}"
    grpc_urls+=("$url_var=${!url_var:-http://127.0.0.1:$port}")
  done
  # On one machine every client (browser, curl, make bench) is one address
  # and often one account, so the per-IP and per-account limits are set far
  # above the production ones (k8s/base/gateway.env); override to try them.
  start_one gateway \
    HTTP_ADDR="${HTTP_ADDR:-127.0.0.1:$HTTP_PORT}" \
    METRICS_ADDR="127.0.0.1:$((HTTP_PORT + METRICS_PORT_OFFSET))" \
    RATE_LIMIT_PER_IP="${RATE_LIMIT_PER_IP:-20000}" RATE_LIMIT_PER_IP_BURST="${RATE_LIMIT_PER_IP_BURST:-40000}" \
    RATE_LIMIT_PER_PRINCIPAL="${RATE_LIMIT_PER_PRINCIPAL:-20000}" RATE_LIMIT_PER_PRINCIPAL_BURST="${RATE_LIMIT_PER_PRINCIPAL_BURST:-40000}" \
    AUTH_ISSUER="$issuer" \
    AUTH_SIGNING_KEY_FILE="${AUTH_SIGNING_KEY_FILE:-$auth_key}" \
    AUTH_USERS_FILE="${AUTH_USERS_FILE:-$ROOT/deploy/seed/users.json}" \
    CALENDAR_DIR="${CALENDAR_DIR:-$ROOT/deploy/calendars}" \
    "${grpc_urls[@]}"

  local grpc_list="" metrics_list="gateway http://127.0.0.1:$((HTTP_PORT + METRICS_PORT_OFFSET))/metrics"
  for i in "${!BACKEND_NAMES[@]}"; do
    grpc_list+="${grpc_list:+, }${BACKEND_NAMES[$i]} 127.0.0.1:${BACKEND_PORTS[$i]}"
    metrics_list+=$'\n                      '"${BACKEND_NAMES[$i]} http://127.0.0.1:$((BACKEND_PORTS[$i] + METRICS_PORT_OFFSET))/metrics"
  done
  say "waiting until every service is ready"
  for _ in $(seq 1 120); do
    # The gateway is ready on its own; its answer says whether each
    # backend is SERVING too.
    if curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" 2>/dev/null | grep -q '"backends"' \
       && ! curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" 2>/dev/null | grep -q '"serving":false'; then
      cat <<MSG

  Bianmin 便民 is up.
    Gateway (REST):   http://127.0.0.1:$HTTP_PORT
    API document:     http://127.0.0.1:$HTTP_PORT/api/v1/openapi.json
    Centers:          http://127.0.0.1:$HTTP_PORT/api/v1/centers
    Service catalog:  http://127.0.0.1:$HTTP_PORT/api/v1/catalog/services
    gRPC:             $grpc_list
    Metrics:          $metrics_list
    Demo logins (password bianmin-demo): admin, c01-supervisor, c01-specialist,
                      c02-supervisor, c02-specialist, partner
      curl -s -X POST http://127.0.0.1:$HTTP_PORT/api/v1/auth/login \\
        -H 'content-type: application/json' -d '{"username":"c01-specialist","password":"bianmin-demo"}'
    Logs:             $RUN_DIR/logs/
    Stop:             make down

MSG
      return 0
    fi
    for s in "${SERVICES[@]}"; do
      pid_alive "$RUN_DIR/$s.pid" || { tail -20 "$RUN_DIR/logs/$s.log" >&2; die "$s exited; log above"; }
    done
    sleep 1
  done
  die "not ready after 120 s; see the logs in $RUN_DIR/logs/"
}

down() {
  # The gateway first, then the services in reverse order, then NATS.
  local i s order=(gateway)
  for ((i = ${#BACKEND_NAMES[@]} - 1; i >= 0; i--)); do order+=("${BACKEND_NAMES[$i]}"); done
  for s in "${order[@]}" nats; do
    local pid_file="$RUN_DIR/$s.pid"
    if pid_alive "$pid_file"; then
      kill -TERM "$(cat "$pid_file")"
      for _ in $(seq 1 50); do pid_alive "$pid_file" || break; sleep 0.2; done
      pid_alive "$pid_file" && kill -KILL "$(cat "$pid_file")"
      say "stopped $s"
    fi
    rm -f "$pid_file"
    [ "$s" != nats ] || rm -f "$RUN_DIR/nats.port"
  done
}

status() {
  for s in "${SERVICES[@]}" nats; do
    if pid_alive "$RUN_DIR/$s.pid"; then echo "$s: running (pid $(cat "$RUN_DIR/$s.pid"))"; else echo "$s: stopped"; fi
  done
  curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" 2>/dev/null && echo || true
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
