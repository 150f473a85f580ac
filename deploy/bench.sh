#!/usr/bin/env bash
# `make bench`: load the cluster `make up` started and measure the machine's
# ceiling in the same run. Settings: BENCH_DURATION (60 s), BENCH_CONCURRENCY
# (16), BENCH_MIX, BENCH_CURVE (e.g. 1,2,4,8,16,32: adds the latency curve),
# BENCH_TARGET, BENCH_OUT. Extra arguments go to bianmin-bench (--help).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
BIN="${BIANMIN_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/release}/bianmin-bench"
TARGET="${BENCH_TARGET:-http://127.0.0.1:${GATEWAY_PORT:-8080}}"
curl -fsS "$TARGET/readyz" 2>/dev/null | grep -q '"serving":true' && ! curl -fsS "$TARGET/readyz" 2>/dev/null | grep -q '"serving":false' \
  || die "no ready cluster at $TARGET: run \`make up\` first"
[ -x "$BIN" ] || "$ROOT/deploy/build.sh"
# The ceiling connects to PostgreSQL the way the services do.
exec "$BIN" --target "$TARGET" --nats-url "${NATS_URL:-nats://127.0.0.1:$(nats_port_in_use)}" \
  --database-base "${BENCH_DATABASE_BASE:-postgres://postgres:postgres@$PGHOST_ADDR:$PGPORT_NUM$PG_LOCAL_OPTS}" "$@"
