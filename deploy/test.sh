#!/usr/bin/env bash
# Every test: unit, API and end-to-end (real PostgreSQL, NATS and sockets),
# then the Kubernetes manifests. `make test` calls this.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_postgres
ensure_doc_tools
export NATS_SERVER_BIN="$(nats_server_bin)"
export BIANMIN_NATS_CONF="$(nats_config_for "$NATS_SERVER_BIN")"
say "NATS for tests: $("$NATS_SERVER_BIN" --version)"
export BIANMIN_S3_SERVER_BIN="$(s3_server_bin)"
export BIANMIN_FUZZ_BIN="$(fuzz_bin)"

# The end-to-end tests start these binaries as separate processes.
cargo build --locked --workspace --bins
cargo test --locked --workspace --no-fail-fast -- --test-threads="${TEST_THREADS:-2}"

if [ -x deploy/k8s/validate.sh ]; then
  deploy/k8s/validate.sh
fi
