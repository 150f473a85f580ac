#!/usr/bin/env bash
# Offline validation of the Kubernetes manifests: renders every overlay,
# validates each document strictly (built-in kinds with kubernetes-validate,
# custom resources with our schemas), runs the policy test, and checks and
# unit-tests the alert rules with promtool (rules.sh). Exits non-zero
# on any failure; the last line reads `k8s: N passed, M failed`.
#
# The validators live in their own venv under deploy/.tools (gitignored),
# installed from PyPI on the first run (~20 s) and reused while
# requirements.txt is unchanged. The NATS server that checks nats.conf files
# is the one deploy/lib.sh installs (pinned, hash-checked) for the tests.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/deploy/lib.sh"
venv="$root/deploy/.tools/k8s-venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum < "$here/requirements.txt" | cut -d' ' -f1)"
export NATS_SERVER_BIN="${NATS_SERVER_BIN:-$(nats_server_bin)}"

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "validate.sh needs Python 3.11+ (tomllib)" >&2; exit 1; }

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing validation tools into deploy/.tools/k8s-venv"
  python3 -m venv --clear "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
    -r "$here/requirements.txt"
  echo "$want" > "$stamp"
fi

# The alert rules: promtool check rules and test rules (its own script, so
# it can run alone while rules are written).
PYTHON="$venv/bin/python" "$here/rules.sh"

exec "$venv/bin/python" "$here/validate.py"
