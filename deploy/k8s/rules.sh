#!/usr/bin/env bash
# The alert rules, offline: extracts spec from the PrometheusRule
# k8s/components/monitoring/rules.yaml (the one source of the rules), then
# `promtool check rules` on it and `promtool test rules` with
# deploy/k8s/rules_test.yaml. promtool comes from Debian's prometheus
# package (deploy/lib.sh ensure_promtool). Called by deploy/k8s/validate.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/deploy/lib.sh"
ensure_promtool
python="${PYTHON:-python3}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" - "$root/k8s/components/monitoring/rules.yaml" "$work/rules.yaml" <<'PY'
import sys, yaml
with open(sys.argv[1], encoding="utf-8") as f:
    doc = yaml.safe_load(f)
assert doc["kind"] == "PrometheusRule", doc["kind"]
with open(sys.argv[2], "w", encoding="utf-8") as f:
    yaml.safe_dump(doc["spec"], f, sort_keys=False, allow_unicode=True)
PY
cp "$here/rules_test.yaml" "$work/rules_test.yaml"
promtool check rules "$work/rules.yaml"
(cd "$work" && promtool test rules rules_test.yaml)
echo "rules: promtool check rules and promtool test rules passed"
