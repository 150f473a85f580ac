"""Policy checks on rendered Kubernetes manifests (our rules, not the schema's).

Each `check_*` function takes the rendered documents of one overlay (a list of
dicts) and what the operator provides (`Provided`, from operator-provided.txt)
and returns a list of problems as strings; an empty list means the check holds.
`self_check()` runs every check on a deliberately broken render and on a good
one, to show the checks can fail and do not fail everything.

Used by validate.py; also runnable alone:
    python policy_test.py OVERLAY RENDERED.yaml   # checks one render
    python policy_test.py --self-check
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
# Run to completion: nothing routes traffic to them, so no probes required.
RUN_TO_COMPLETION_KINDS = {"Job"}
# The keys cert-manager writes into a Certificate's spec.secretName.
CERTIFICATE_SECRET_KEYS = {"tls.crt", "tls.key", "ca.crt"}
RUN_AS_USER = 10001
# The image that holds the Bianmin programs (deploy/Containerfile), by the
# last path segment of its name, whatever registry an overlay points it at.
OUR_IMAGE = "bianmin"
# The backend services, one `name grpc_port` a line (the gateway is not listed).
SERVICES_FILE = Path(__file__).resolve().parent.parent / "services.txt"
SERVICE_NAME = re.compile(r"[a-z][a-z0-9]*")


@dataclass
class Provided:
    """What operator-provided.txt lists for one overlay."""

    secrets: set[str] = field(default_factory=set)
    configmaps: set[str] = field(default_factory=set)
    pods: list[tuple[dict, set[tuple[int, str]]]] = field(default_factory=list)  # labels, ports
    ports: set[tuple[int, str]] = field(default_factory=set)  # external (port, protocol)
    ingress_classes: set[str] = field(default_factory=set)
    gateways: set[str] = field(default_factory=set)  # namespace/name


def load_services(path: Path = SERVICES_FILE) -> list[tuple[str, int]]:
    """[(name, grpc_port)] of deploy/services.txt, in the file's order."""
    services: list[tuple[str, int]] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = raw.split("#", 1)[0].split()
        if not parts:
            continue
        where = f"{path.name} line {number}"
        if len(parts) != 2 or not SERVICE_NAME.fullmatch(parts[0]) or not parts[1].isdigit():
            raise ValueError(f"{where}: want `name grpc_port` (name: a-z, 0-9), got {raw!r}")
        name, port = parts[0], int(parts[1])
        if name == "gateway" or not 0 < port < 65536:
            raise ValueError(f"{where}: {name} {port}: the gateway is not listed; ports are 1-65535")
        if name in {n for n, _ in services} or port in {p for _, p in services}:
            raise ValueError(f"{where}: {name} {port}: name and port must be unique")
        services.append((name, port))
    return services


def shipped_binaries(services: list[tuple[str, int]]) -> set[str]:
    """The programs the image holds: the gateway and bianmin-<name> per service."""
    return {"bianmin-gateway"} | {f"bianmin-{name}" for name, _ in services}


def parse_port(text: str) -> tuple[int, str]:
    number, _, proto = text.partition("/")
    return int(number), (proto or "TCP").upper()


# In operator-provided.txt, a name or selector with this placeholder stands
# for one line per backend service of deploy/services.txt.
EACH_SERVICE = "<name>"


def load_provided(path: Path, overlay: str, services: list[tuple[str, int]] | None = None) -> Provided:
    """What `path` lists for `overlay`; a line whose name or selector holds
    `<name>` is read once per service of `services` (default: deploy/services.txt)."""
    provided = Provided()
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 4:
            raise ValueError(f"{path}: needs `overlay kind name reason`: {raw!r}")
        if EACH_SERVICE in parts[2]:
            if services is None:
                services = load_services()
            lines += [[*parts[:2], parts[2].replace(EACH_SERVICE, name), *parts[3:]] for name, _ in services]
        else:
            lines.append(parts)
    for parts in lines:
        if parts[0] != overlay:
            continue
        kind, name = parts[1], parts[2]
        if kind == "Secret":
            provided.secrets.add(name)
        elif kind == "ConfigMap":
            provided.configmaps.add(name)
        elif kind == "Pods":
            key, _, value = name.partition("=")
            ports = {parse_port(p) for p in parts[3].split(",")}
            provided.pods.append(({key: value}, ports))
        elif kind == "Port":
            provided.ports.add(parse_port(name))
        elif kind == "IngressClass":
            provided.ingress_classes.add(name)
        elif kind == "Gateway":
            provided.gateways.add(name)
        else:
            raise ValueError(f"{path}: unknown kind {kind!r}")
    return provided


# ---------------------------------------------------------------- helpers


def name_of(doc: dict) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def pod_templates(docs):
    """(workload doc, pod spec, pod labels) for every workload in the render."""
    for doc in docs:
        if doc.get("kind") in WORKLOAD_KINDS:
            template = doc.get("spec", {}).get("template", {})
            yield doc, template.get("spec", {}), template.get("metadata", {}).get("labels", {}) or {}


def all_containers(spec: dict):
    for c in spec.get("initContainers", []) or []:
        yield c, True
    for c in spec.get("containers", []) or []:
        yield c, False


def selector_matches(selector: dict | None, labels: dict) -> bool:
    """Kubernetes label selector semantics: {matchLabels, matchExpressions}."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions", []) or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def label_selector(sel: dict | None) -> dict | None:
    """A LabelSelector field ({matchLabels, matchExpressions}) as used by selector_matches."""
    if sel is None:
        return None
    return {"matchLabels": sel.get("matchLabels") or {}, "matchExpressions": sel.get("matchExpressions") or []}


def pods_with_ports(docs, provided: Provided):
    """(labels, {(port, proto)}, {name: (port, proto)}) for every pod kind we know."""
    out = []
    for _, spec, labels in pod_templates(docs):
        numbers, names = set(), {}
        for c, _ in all_containers(spec):
            for p in c.get("ports", []) or []:
                entry = (p["containerPort"], p.get("protocol", "TCP"))
                numbers.add(entry)
                if "name" in p:
                    names[p["name"]] = entry
        out.append((labels, numbers, names))
    for labels, ports in provided.pods:
        out.append((labels, set(ports), {}))
    return out


def image_repo(image: str) -> str:
    return image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]


# ---------------------------------------------------------------- checks


def check_containers(docs, provided=None):
    """Probes, resources and the restricted security context on every container."""
    problems = []
    for doc, spec, _ in pod_templates(docs):
        pod_sc = spec.get("securityContext", {}) or {}
        for c, is_init in all_containers(spec):
            where = f"{name_of(doc)} container {c.get('name')}"
            if not is_init and doc.get("kind") not in RUN_TO_COMPLETION_KINDS:
                for probe in ("livenessProbe", "readinessProbe"):
                    if not c.get(probe):
                        problems.append(f"{where}: no {probe}")
            res = c.get("resources", {}) or {}
            for part in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in (res.get(part) or {}):
                        problems.append(f"{where}: no {part}.{resource}")
            sc = c.get("securityContext", {}) or {}

            def effective(key):
                return sc.get(key, pod_sc.get(key))

            if effective("runAsNonRoot") is not True:
                problems.append(f"{where}: runAsNonRoot is not true")
            if effective("runAsUser") != RUN_AS_USER:
                problems.append(f"{where}: runAsUser is {effective('runAsUser')}, not {RUN_AS_USER}")
            if (effective("seccompProfile") or {}).get("type") != "RuntimeDefault":
                problems.append(f"{where}: seccompProfile is not RuntimeDefault")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation is not false")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem is not true")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                problems.append(f"{where}: capabilities do not drop ALL")
            if image_repo(c.get("image", "")) == OUR_IMAGE:
                volumes = {v["name"]: v for v in spec.get("volumes", []) or []}
                tmp = [m for m in c.get("volumeMounts", []) or [] if m.get("mountPath") == "/tmp"]
                if not tmp or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
                    problems.append(f"{where}: /tmp is not an emptyDir (root filesystem is read-only)")
    return problems


def check_images(docs, provided=None):
    """Every image names a tag or digest, never `latest`."""
    problems = []
    for doc, spec, _ in pod_templates(docs):
        for c, _ in all_containers(spec):
            image = c.get("image", "")
            last = image.split("@")[0].rsplit("/", 1)[-1]
            if "@sha256:" not in image and (":" not in last or last.endswith(":latest")):
                problems.append(f"{name_of(doc)} container {c.get('name')}: image {image!r} has no fixed tag")
    return problems


def check_commands(docs, binaries: set[str]):
    """Containers of our image run a program the image contains."""
    problems = []
    for doc, spec, _ in pod_templates(docs):
        for c, _ in all_containers(spec):
            if image_repo(c.get("image", "")) != OUR_IMAGE:
                continue
            command = c.get("command") or []
            if not command or command[0] not in binaries:
                problems.append(f"{name_of(doc)} container {c.get('name')}: command {command} is not one of {sorted(binaries)}")
    return problems


def check_service_selectors(docs, provided: Provided):
    """Every Service selects pods of a workload, and its target ports exist there."""
    problems = []
    pods = pods_with_ports(docs, provided)
    for doc in docs:
        if doc.get("kind") != "Service":
            continue
        selector = doc.get("spec", {}).get("selector")
        if not selector:
            problems.append(f"{name_of(doc)}: no selector")
            continue
        matched = [p for p in pods if selector_matches({"matchLabels": selector}, p[0])]
        if not matched:
            problems.append(f"{name_of(doc)}: selector {selector} matches no workload's pod labels")
            continue
        for port in doc["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            proto = port.get("protocol", "TCP")
            ok = any(
                (target in names and names[target][1] == proto) or (target, proto) in numbers
                for _, numbers, names in matched
            )
            if not ok:
                problems.append(f"{name_of(doc)}: targetPort {target}/{proto} is not a container port of the selected pods")
    return problems


def check_network_policy_ports(docs, provided: Provided):
    """Every port a NetworkPolicy opens is one its pods listen on, or a listed external port."""
    problems = []
    pods = pods_with_ports(docs, provided)

    def resolve(port, proto, candidates):
        """The numbered ports `port` can mean on the candidate pods."""
        if isinstance(port, int):
            return {(port, proto)}
        return {names[port] for _, _, names in candidates if port in names}

    for doc in docs:
        if doc.get("kind") != "NetworkPolicy":
            continue
        spec = doc.get("spec", {})
        selected = [p for p in pods if selector_matches(label_selector(spec.get("podSelector")), p[0])]
        if not selected:
            problems.append(f"{name_of(doc)}: podSelector selects no pod")
        for rule in spec.get("ingress", []) or []:
            if not rule.get("ports"):
                problems.append(f"{name_of(doc)}: an ingress rule opens every port")
            for peer in rule.get("from", []) or []:
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    if not any(selector_matches(label_selector(peer["podSelector"]), p[0]) for p in pods):
                        problems.append(f"{name_of(doc)}: ingress peer {peer['podSelector']} selects no pod")
            listening = set().union(*(p[1] for p in selected)) if selected else set()
            for port in rule.get("ports", []) or []:
                proto = port.get("protocol", "TCP")
                for resolved in resolve(port.get("port"), proto, selected) or {(port.get("port"), proto)}:
                    if resolved not in listening:
                        problems.append(f"{name_of(doc)}: ingress port {resolved[0]}/{resolved[1]} is not listened on by the selected pods")
        for rule in spec.get("egress", []) or []:
            if not rule.get("ports"):
                problems.append(f"{name_of(doc)}: an egress rule opens every port")
            peers = rule.get("to") or [None]
            for peer in peers:
                external = peer is None or "ipBlock" in peer or "namespaceSelector" in peer
                dests = [] if external else [p for p in pods if selector_matches(label_selector(peer["podSelector"]), p[0])]
                if not external and not dests:
                    problems.append(f"{name_of(doc)}: egress peer {peer['podSelector']} selects no pod")
                    continue
                allowed = provided.ports if external else set().union(*(p[1] for p in dests))
                for port in rule.get("ports", []) or []:
                    proto = port.get("protocol", "TCP")
                    for resolved in resolve(port.get("port"), proto, dests) or {(port.get("port"), proto)}:
                        if resolved not in allowed:
                            what = "a listed external port (operator-provided.txt)" if external else "listened on by the destination pods"
                            problems.append(f"{name_of(doc)}: egress port {resolved[0]}/{resolved[1]} is not {what}")
    return problems


def _policy_types(spec: dict) -> set[str]:
    """A NetworkPolicy's directions: policyTypes, or Kubernetes' default."""
    return set(spec.get("policyTypes") or ["Ingress"] + (["Egress"] if "egress" in spec else []))


def _peer_matches(peer: dict, labels: dict, via_ip_blocks: bool) -> bool:
    """Whether a rule's peer takes in a pod with `labels` of the render's namespace.
    A namespaceSelector with labels is taken for another namespace; whether an
    ipBlock covers pod addresses depends on the network plugin: `via_ip_blocks`."""
    if "ipBlock" in peer:
        return via_ip_blocks
    namespaces = peer.get("namespaceSelector")
    if namespaces is not None and ((namespaces or {}).get("matchLabels") or (namespaces or {}).get("matchExpressions")):
        return False
    pods = peer.get("podSelector")
    return pods is None or selector_matches(label_selector(pods), labels)


def _rule_allows(rule: dict, peers_key: str, peer_labels: dict, port: int, proto: str,
                 dst_names: dict, via_ip_blocks: bool) -> bool:
    peers = rule.get(peers_key)
    if peers and not any(_peer_matches(p, peer_labels, via_ip_blocks) for p in peers):
        return False
    if not rule.get("ports"):
        return True
    for p in rule["ports"]:
        if p.get("protocol", "TCP") != proto:
            continue
        want = p.get("port")
        if want is None:
            return True
        if isinstance(want, str):  # a named port: the destination pod's
            if dst_names.get(want) == (port, proto):
                return True
        elif want <= port <= p.get("endPort", want):
            return True
    return False


def network_allows(docs, src_labels: dict, dst_labels: dict, dst_names: dict, port: int,
                   proto: str = "TCP", via_ip_blocks: bool = False) -> bool:
    """Whether the render's NetworkPolicies let a pod with `src_labels` open
    `port` on a pod with `dst_labels` (whose named ports are `dst_names`,
    {name: (port, proto)}), both in the render's namespace: the source's egress
    and the destination's ingress must both allow it (a pod no policy of that
    direction selects is open in that direction)."""
    policies = [d.get("spec", {}) or {} for d in docs if d.get("kind") == "NetworkPolicy"]

    def side(direction, selected, peer, peers_key):
        relevant = [p for p in policies if direction in _policy_types(p)
                    and selector_matches(label_selector(p.get("podSelector")), selected)]
        return not relevant or any(
            _rule_allows(rule, peers_key, peer, port, proto, dst_names, via_ip_blocks)
            for p in relevant for rule in p.get(direction.lower(), []) or [])

    return side("Egress", src_labels, dst_labels, "to") and side("Ingress", dst_labels, src_labels, "from")


def _references(docs):
    """(referrer, kind, name, key or None, optional) for every ConfigMap/Secret reference."""
    refs = []
    for doc, spec, _ in pod_templates(docs):
        who = name_of(doc)
        for c, _ in all_containers(spec):
            for env in c.get("env", []) or []:
                vf = env.get("valueFrom", {}) or {}
                for field_name, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    if field_name in vf:
                        ref = vf[field_name]
                        refs.append((who, kind, ref["name"], ref.get("key"), ref.get("optional", False)))
            for src in c.get("envFrom", []) or []:
                for field_name, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if field_name in src:
                        ref = src[field_name]
                        refs.append((who, kind, ref["name"], None, ref.get("optional", False)))
        volume_sources = []
        for v in spec.get("volumes", []) or []:
            if "configMap" in v:
                volume_sources.append(("ConfigMap", v["configMap"], v["configMap"]["name"]))
            if "secret" in v:
                volume_sources.append(("Secret", v["secret"], v["secret"]["secretName"]))
            for s in (v.get("projected") or {}).get("sources", []) or []:
                if "configMap" in s:
                    volume_sources.append(("ConfigMap", s["configMap"], s["configMap"]["name"]))
                if "secret" in s:
                    volume_sources.append(("Secret", s["secret"], s["secret"]["name"]))
        for kind, src, name in volume_sources:
            keys = [i["key"] for i in src.get("items", []) or []] or [None]
            for key in keys:
                refs.append((who, kind, name, key, src.get("optional", False)))
        for s in spec.get("imagePullSecrets", []) or []:
            refs.append((who, "Secret", s["name"], None, False))
    for doc in docs:
        who = name_of(doc)
        if doc.get("kind") == "Ingress":
            for tls in doc.get("spec", {}).get("tls", []) or []:
                if tls.get("secretName"):
                    refs.append((who, "Secret", tls["secretName"], None, False))
        if doc.get("kind") == "ObjectStore":
            creds = doc["spec"]["configuration"].get("s3Credentials", {}) or {}
            for sel in creds.values():
                if isinstance(sel, dict):
                    refs.append((who, "Secret", sel["name"], sel["key"], False))
        if doc.get("kind") == "Issuer" and doc["apiVersion"].startswith("cert-manager.io/"):
            ca = (doc.get("spec") or {}).get("ca") or {}
            if "secretName" in ca:
                refs.append((who, "Secret", ca["secretName"], None, False))
        if doc.get("kind") == "Cluster":
            initdb = (doc.get("spec", {}).get("bootstrap") or {}).get("initdb") or {}
            if "secret" in initdb:
                refs.append((who, "Secret", initdb["secret"]["name"], None, False))
    return refs


def certificate_secrets(docs) -> dict[str, str]:
    """{secret name: Certificate name} for the Secrets cert-manager writes for the render."""
    return {d["spec"]["secretName"]: d["metadata"]["name"] for d in docs
            if d.get("kind") == "Certificate" and d.get("apiVersion", "").startswith("cert-manager.io/")}


def check_references(docs, provided: Provided):
    """Every referenced ConfigMap/Secret (and key) is in the render or operator-provided.

    A Secret named by a cert-manager Certificate's spec.secretName counts as in
    the render, with the keys cert-manager writes (tls.crt, tls.key, ca.crt).
    """
    problems = []
    objects = {}
    for secret, certificate in certificate_secrets(docs).items():
        objects[("Secret", secret)] = dict.fromkeys(CERTIFICATE_SECRET_KEYS)
    for doc in docs:
        if doc.get("kind") in ("ConfigMap", "Secret"):
            data = {**(doc.get("data") or {}), **(doc.get("stringData") or {}), **(doc.get("binaryData") or {})}
            if (doc["kind"], doc["metadata"]["name"]) in objects:
                problems.append(f"{name_of(doc)} is also written by a Certificate: which one wins?")
            objects[(doc["kind"], doc["metadata"]["name"])] = data
    listed = {("Secret", n) for n in provided.secrets} | {("ConfigMap", n) for n in provided.configmaps}
    used = set()
    for who, kind, name, key, optional in _references(docs):
        used.add((kind, name))
        if (kind, name) in objects:
            if key is not None and key not in objects[(kind, name)]:
                problems.append(f"{who}: {kind} {name} has no key {key!r}")
        elif (kind, name) not in listed and not optional:
            problems.append(f"{who}: {kind} {name} is neither in the render nor operator-provided")
    for kind, name in sorted(listed):
        if (kind, name) in objects:
            problems.append(f"operator-provided {kind} {name} is also in the render: which one wins?")
        elif (kind, name) not in used:
            problems.append(f"operator-provided {kind} {name} is listed but nothing references it")
    return problems


def check_object_refs(docs, provided: Provided):
    """HPAs, PDBs, Ingresses, TLSRoutes and pods point at things that exist."""
    problems = []
    by_kind_name = {(d.get("kind"), d.get("metadata", {}).get("name")): d for d in docs}
    services = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "Service"}
    accounts = {d["metadata"]["name"] for d in docs if d.get("kind") == "ServiceAccount"}
    templates = [labels for _, _, labels in pod_templates(docs)] + [labels for labels, _ in provided.pods]

    def service_port_exists(name, port):
        svc = services.get(name)
        if svc is None:
            return False
        return any(p["port"] == port or p.get("name") == port for p in svc["spec"].get("ports", []))

    for doc in docs:
        kind, who = doc.get("kind"), name_of(doc)
        spec = doc.get("spec", {}) or {}
        if kind == "HorizontalPodAutoscaler":
            ref = spec["scaleTargetRef"]
            if (ref["kind"], ref["name"]) not in by_kind_name:
                problems.append(f"{who}: scale target {ref['kind']}/{ref['name']} is not in the render")
            elif "replicas" in by_kind_name[(ref["kind"], ref["name"])].get("spec", {}):
                problems.append(f"{who}: {ref['kind']}/{ref['name']} sets replicas, which every apply would reset under the autoscaler")
        if kind == "PodDisruptionBudget":
            if not any(selector_matches(label_selector(spec.get("selector")), labels) for labels in templates):
                problems.append(f"{who}: selector matches no pods")
        if kind == "Ingress":
            if spec.get("ingressClassName") not in provided.ingress_classes:
                problems.append(f"{who}: ingress class {spec.get('ingressClassName')!r} is not operator-provided")
            for rule in spec.get("rules", []) or []:
                for path in (rule.get("http") or {}).get("paths", []):
                    svc = path["backend"]["service"]
                    port = svc["port"].get("number", svc["port"].get("name"))
                    if not service_port_exists(svc["name"], port):
                        problems.append(f"{who}: backend {svc['name']}:{port} is not a Service port in the render")
        if kind == "TLSRoute":
            for parent in spec.get("parentRefs", []) or []:
                ref = f"{parent.get('namespace', doc['metadata'].get('namespace'))}/{parent['name']}"
                if ref not in provided.gateways:
                    problems.append(f"{who}: parent Gateway {ref} is not operator-provided")
            for rule in spec.get("rules", []) or []:
                for backend in rule.get("backendRefs", []) or []:
                    if not service_port_exists(backend["name"], backend["port"]):
                        problems.append(f"{who}: backend {backend['name']}:{backend['port']} is not a Service port in the render")
        if kind == "Certificate" and doc.get("apiVersion", "").startswith("cert-manager.io/"):
            ref = spec.get("issuerRef") or {}
            if ref.get("kind", "Issuer") == "Issuer" and ("Issuer", ref.get("name")) not in by_kind_name:
                problems.append(f"{who}: issuer Issuer/{ref.get('name')} is not in the render")
    for labels, _ in provided.pods:
        cluster = labels.get("cnpg.io/cluster")
        if cluster and ("Cluster", cluster) not in by_kind_name:
            problems.append(f"operator-provided Pods of CNPG cluster {cluster}: no Cluster {cluster} in the render")
    for doc, spec, labels in pod_templates(docs):
        account = spec.get("serviceAccountName")
        if account and account not in accounts:
            problems.append(f"{name_of(doc)}: ServiceAccount {account} is not in the render")
        selector = doc.get("spec", {}).get("selector")
        if selector and not selector_matches(label_selector(selector), labels):
            problems.append(f"{name_of(doc)}: selector does not match its own pod template")
    return problems


def check_configmap_sizes(docs, provided=None):
    """A ConfigMap holds at most 1 MiB; stay well below (the seed catalog grows)."""
    problems = []
    for doc in docs:
        if doc.get("kind") == "ConfigMap":
            size = sum(len(str(v).encode()) for v in (doc.get("data") or {}).values())
            if size > 900 * 1024:
                problems.append(f"{name_of(doc)}: {size} bytes, close to the 1 MiB ConfigMap limit")
    return problems


CHECKS = [
    check_containers,
    check_images,
    check_service_selectors,
    check_network_policy_ports,
    check_references,
    check_object_refs,
    check_configmap_sizes,
]


def run_all(docs, provided: Provided, binaries: set[str]):
    """[(check name, problems)] for one overlay's render."""
    results = [(check.__name__, check(docs, provided)) for check in CHECKS]
    results.append(("check_commands", check_commands(docs, binaries)))
    # The same mistake seen from an init container and its server is one problem.
    return [(name, list(dict.fromkeys(problems))) for name, problems in results]


# ---------------------------------------------------------------- self-check

_GOOD = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: app}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {A: "1"}
---
apiVersion: v1
kind: Service
metadata: {name: app}
spec:
  selector: {app: app}
  ports: [{name: grpc, port: 50061, targetPort: grpc}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      serviceAccountName: app
      securityContext: {runAsNonRoot: true, runAsUser: 10001, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: app
          image: registry.example/bianmin:1.0
          command: [bianmin-intake, serve]
          ports: [{name: grpc, containerPort: 50061}]
          envFrom: [{configMapRef: {name: app-config}}]
          livenessProbe: {grpc: {port: 50061}}
          readinessProbe: {grpc: {port: 50061}}
          resources: {requests: {cpu: 10m, memory: 1Mi}, limits: {cpu: 10m, memory: 1Mi}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
            - {name: tls, mountPath: /etc/tls, readOnly: true}
      volumes:
        - {name: tmp, emptyDir: {}}
        - name: tls
          secret:
            secretName: app-tls
            items: [{key: tls.crt, path: tls.crt}, {key: tls.key, path: tls.key}, {key: ca.crt, path: ca.crt}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: app}
spec:
  podSelector: {matchLabels: {app: app}}
  ingress: [{ports: [{port: 50061}]}]
  egress: [{to: [{namespaceSelector: {}}], ports: [{port: 53, protocol: UDP}]}]
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: app-ca}
spec: {ca: {secretName: app-ca}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: app-ca}
spec: {isCA: true, commonName: app CA, secretName: app-ca, issuerRef: {name: app-selfsigned}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: app-selfsigned}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: app}
spec: {secretName: app-tls, dnsNames: [app], issuerRef: {name: app-ca, kind: Issuer}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: app-setup}
spec:
  template:
    spec:
      restartPolicy: OnFailure
      securityContext: {runAsNonRoot: true, runAsUser: 10001, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: setup
          image: registry.example/tool:1.0
          resources: {requests: {cpu: 10m, memory: 1Mi}, limits: {cpu: 10m, memory: 1Mi}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
"""


def _broken():
    """The good render with one mistake of each kind the checks exist for."""
    docs = list(yaml.safe_load_all(_GOOD))
    deploy = docs[3]["spec"]["template"]["spec"]
    c = deploy["containers"][0]
    del c["readinessProbe"]  # no readiness probe
    del c["resources"]["limits"]  # no limits
    deploy["securityContext"]["runAsUser"] = 0  # root
    c["securityContext"]["readOnlyRootFilesystem"] = False
    c["image"] = "registry.example/bianmin:latest"
    c["command"] = ["bianmin-nonexistent", "serve"]
    c["env"] = [{"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "missing-db", "key": "uri"}}}]
    docs[2]["spec"]["selector"] = {"app": "typo"}  # Service selects nothing
    docs[4]["spec"]["ingress"][0]["ports"] = [{"port": 9999}]  # nobody listens on 9999
    docs[4]["spec"]["egress"][0]["ports"] = [{"port": 5432}]  # not a listed external port
    deploy["volumes"][1]["secret"]["items"][1]["key"] = "key.pem"  # cert-manager writes tls.key
    docs[5]["spec"]["ca"]["secretName"] = "typo-ca"  # no Certificate writes it
    docs[8]["spec"]["issuerRef"]["name"] = "typo"  # no such Issuer
    del docs[9]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]  # Jobs still need limits
    docs.append({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "typo"},
                 "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "typo"}}}})
    return docs


def self_check():
    """[(name, ok, detail)]: the checks pass a good render and catch each planted mistake."""
    provided = Provided(ports={(53, "UDP")})
    binaries = {"bianmin-intake"}
    results = []
    good = list(yaml.safe_load_all(_GOOD))
    for name, problems in run_all(good, provided, binaries):
        results.append((f"self-check: {name} passes a good render", not problems, "; ".join(problems)))
    broken = _broken()
    found = {name: problems for name, problems in run_all(broken, provided, binaries)}
    expected = {
        "check_containers": ["no readinessProbe", "no limits.cpu", "runAsUser is 0", "readOnlyRootFilesystem",
                             "Job/app-setup container setup: no limits.cpu"],
        "check_images": ["no fixed tag"],
        "check_commands": ["bianmin-nonexistent"],
        "check_service_selectors": ["matches no workload"],
        "check_network_policy_ports": ["ingress port 9999/TCP", "egress port 5432/TCP"],
        "check_references": ["Secret missing-db is neither", "Secret app-tls has no key 'key.pem'",
                             "Issuer/app-ca: Secret typo-ca is neither"],
        "check_object_refs": ["PodDisruptionBudget/typo: selector matches no pods",
                              "Certificate/app: issuer Issuer/typo is not in the render"],
    }
    for name, needles in expected.items():
        for needle in needles:
            hit = any(needle in p for p in found[name])
            results.append((f"self-check: {name} reports {needle!r}", hit, "; ".join(found[name]) or "no problem reported"))
    # network_allows: a named port means the destination's port of that name;
    # both the source's egress and the destination's ingress must allow.
    policies = list(yaml.safe_load_all(_POLICIES))
    app, db, other = {"app": "app", "tier": "backend"}, {"cluster": "app-db"}, {"app": "other", "tier": "backend"}
    front = {"app": "front"}
    for what, want, got in [
        ("front -> app on its named port grpc", True,
         network_allows(policies, front, app, {"grpc": (50061, "TCP")}, 50061)),
        ("front -> app on another port", False,
         network_allows(policies, front, app, {"grpc": (50061, "TCP")}, 50081)),
        ("app -> its database", True, network_allows(policies, app, db, {}, 5432)),
        ("other -> app's database (egress allows, ingress does not)", False,
         network_allows(policies, other, db, {}, 5432)),
        ("front -> app's database over an ipBlock only if ipBlocks reach pods", True,
         network_allows(policies, front, db, {}, 5432, via_ip_blocks=True)),
        ("... and not otherwise", False, network_allows(policies, front, db, {}, 5432)),
    ]:
        results.append((f"self-check: network_allows {what}", got == want, f"got {got}"))
    return results


_POLICIES = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: front}
spec:
  podSelector: {matchLabels: {app: front}}
  policyTypes: [Egress]
  egress:
    - to: [{podSelector: {matchLabels: {tier: backend}}}]
      ports: [{port: grpc}]
    - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
      ports: [{port: 5432}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: backends}
spec:
  podSelector: {matchLabels: {tier: backend}}
  ingress:
    - from: [{podSelector: {matchLabels: {app: front}}}]
      ports: [{port: grpc}]
  egress:
    - to: [{podSelector: {matchExpressions: [{key: cluster, operator: Exists}]}}]
      ports: [{port: 5432}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: app-db}
spec:
  podSelector: {matchLabels: {cluster: app-db}}
  ingress:
    - from: [{podSelector: {matchLabels: {app: app}}}, {podSelector: {matchLabels: {app: front}}}]
      ports: [{port: 5432}]
"""


def main(argv):
    if argv[1:] == ["--self-check"]:
        results = self_check()
        failed = [r for r in results if not r[1]]
        for name, ok, detail in results:
            print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
        return 1 if failed else 0
    overlay, rendered = argv[1], Path(argv[2])
    docs = [d for d in yaml.safe_load_all(rendered.read_text(encoding="utf-8")) if d]
    provided = load_provided(Path(__file__).with_name("operator-provided.txt"), overlay)
    bad = 0
    for name, problems in run_all(docs, provided, shipped_binaries(load_services())):
        print(("ok   " if not problems else "FAIL ") + name)
        for p in problems:
            print("     " + p)
        bad += bool(problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
