#!/usr/bin/python3
"""Checks the rendered Kubernetes manifests (YAML on stdin, from `kubectl kustomize`).

1. Schema: every field of every object must exist in the Kubernetes API with the right type,
   checked against the models of Debian's python3-kubernetes (API 1.22): a misspelt or
   misplaced key (`readOnlyRootFileSystem`, `securityContext` on the wrong level) fails.
2. Policy: what issue 6 and design §7 ask of rollbot's deployment, so a later edit cannot quietly
   undo it: one replica with Recreate, probes on /healthz and /readyz, non-root, read-only root
   file system, no privilege escalation, every capability dropped, memory request and limit, the
   state volume on a PersistentVolumeClaim, tokens as files from a Secret that is not part of the
   rendered output, and a Role with exactly the verbs the runbook's commands need.
Prints one line per problem and exits 1 if there is any.
"""
import re
import sys

import kubernetes.client.models as models
import yaml

KINDS = {
    ("v1", "ServiceAccount"): models.V1ServiceAccount,
    ("v1", "ConfigMap"): models.V1ConfigMap,
    ("v1", "Service"): models.V1Service,
    ("v1", "PersistentVolumeClaim"): models.V1PersistentVolumeClaim,
    ("apps/v1", "Deployment"): models.V1Deployment,
    ("rbac.authorization.k8s.io/v1", "Role"): models.V1Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): models.V1RoleBinding,
}

# Reference §3: the least-privilege Role for the commands rollbot runs.
EXPECTED_RULES = {
    ("apps", "deployments"): {"get", "list", "watch", "patch"},
    ("apps", "replicasets"): {"get", "list"},
    ("", "pods"): {"get", "list"},
    ("", "pods/exec"): {"get", "create"},
    ("", "events"): {"list"},
}

problems = []


def problem(where, text):
    problems.append(f"{where}: {text}")


def check_type(where, type_name, value):
    """Checks value against a python3-kubernetes type string."""
    if value is None:
        return
    if type_name.startswith("list["):
        if not isinstance(value, list):
            return problem(where, f"expected a list, got {type(value).__name__}")
        for i, item in enumerate(value):
            check_type(f"{where}[{i}]", type_name[5:-1], item)
        return
    if type_name.startswith("dict("):
        if not isinstance(value, dict):
            return problem(where, f"expected a map, got {type(value).__name__}")
        inner = type_name[type_name.index(",") + 1:-1].strip()
        for k, v in value.items():
            check_type(f"{where}.{k}", inner, v)
        return
    simple = {"str": str, "bool": bool, "int": int, "float": (int, float)}
    if type_name in simple:
        ok = isinstance(value, simple[type_name]) and not (
            type_name in ("int", "float") and isinstance(value, bool))
        if not ok:
            problem(where, f"expected {type_name}, got {type(value).__name__} {value!r}")
        return
    if type_name in ("object", "datetime", "date"):
        return  # int-or-string, quantities, free-form
    model = getattr(models, type_name, None)
    if model is None:
        return problem(where, f"unknown model {type_name}")
    check_model(where, model, value)


def check_model(where, model, value):
    if not isinstance(value, dict):
        return problem(where, f"expected an object ({model.__name__})")
    by_json = {json_name: attr for attr, json_name in model.attribute_map.items()}
    for key, item in value.items():
        attr = by_json.get(key)
        if attr is None:
            problem(where, f"unknown field {key!r} in {model.__name__}")
            continue
        check_type(f"{where}.{key}", model.openapi_types[attr], item)


def parse_memory(q):
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", str(q))
    if not m:
        return None
    return int(m.group(1)) * {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}[m.group(2)]


def check_deployment(d):
    where = f"Deployment/{d['metadata']['name']}"
    spec = d.get("spec", {})
    if spec.get("replicas") != 1:
        problem(where, "replicas must be 1: two rollbots must never both act (design §7)")
    if spec.get("strategy", {}).get("type") != "Recreate":
        problem(where, "strategy must be Recreate: no overlap between the old and the new pod")
    pod = spec.get("template", {}).get("spec", {})
    psc = pod.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True:
        problem(where, "pod securityContext.runAsNonRoot must be true")
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if grace < 30:
        problem(where, "terminationGracePeriodSeconds must leave time for shutdown.grace + flush")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    containers = pod.get("containers", [])
    if len(containers) != 1:
        problem(where, "exactly one container expected")
    for c in containers:
        cw = f"{where}/{c['name']}"
        sc = c.get("securityContext", {})
        if sc.get("readOnlyRootFilesystem") is not True:
            problem(cw, "readOnlyRootFilesystem must be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            problem(cw, "allowPrivilegeEscalation must be false")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            problem(cw, "capabilities.drop must be [ALL]")
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            got = c.get(probe, {}).get("httpGet", {}).get("path")
            if got != path:
                problem(cw, f"{probe} must GET {path} (got {got})")
        res = c.get("resources", {})
        request = parse_memory(res.get("requests", {}).get("memory"))
        limit = parse_memory(res.get("limits", {}).get("memory"))
        if request is None or limit is None or request > limit:
            problem(cw, "memory request and limit are required, request <= limit")
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
        state = mounts.get("/var/lib/rollbot")
        if not state or "persistentVolumeClaim" not in volumes.get(state["name"], {}):
            problem(cw, "/var/lib/rollbot (the state file) must be a PersistentVolumeClaim")
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        for var in ("SLACK_APP_TOKEN", "SLACK_BOT_TOKEN"):
            if var in env:
                problem(cw, f"{var} must not be in the manifest: use {var}_FILE and the Secret")
            path = env.get(var + "_FILE", "")
            mount = next((m for p, m in mounts.items() if path.startswith(p + "/")), None)
            if not mount or "secret" not in volumes.get(mount["name"], {}):
                problem(cw, f"{var}_FILE must point into a mounted Secret")


def check_role(r):
    where = f"Role/{r['metadata']['name']}"
    got = {}
    for rule in r.get("rules", []):
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                got.setdefault((group, resource), set()).update(rule.get("verbs", []))
    for key, verbs in got.items():
        if "*" in verbs or key[1] == "*" or key[0] == "*":
            problem(where, f"wildcard in {key}: list what is needed")
    if got != EXPECTED_RULES:
        for key in sorted(set(got) | set(EXPECTED_RULES)):
            if got.get(key, set()) != EXPECTED_RULES.get(key, set()):
                problem(where, f"{key[0] or 'core'}/{key[1]}: verbs {sorted(got.get(key, []))}, "
                               f"the commands need {sorted(EXPECTED_RULES.get(key, []))}")


def main():
    docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
    kinds = {}
    for d in docs:
        key = (d.get("apiVersion"), d.get("kind"))
        name = d.get("metadata", {}).get("name", "?")
        kinds.setdefault(key[1], []).append(d)
        model = KINDS.get(key)
        if model is None:
            problem(f"{key[1]}/{name}", f"unexpected kind {key}")
            continue
        check_model(f"{key[1]}/{name}", model, d)
        if d.get("metadata", {}).get("namespace") != "preskool":
            problem(f"{key[1]}/{name}", "must be in the preskool namespace")
    if "Secret" in kinds:
        problem("Secret", "the rendered output must not contain a Secret (tokens are created by hand)")
    for kind in ("Deployment", "Role", "RoleBinding", "ServiceAccount", "ConfigMap",
                 "PersistentVolumeClaim"):
        if kind not in kinds:
            problem(kind, "missing")
    for d in kinds.get("Deployment", []):
        check_deployment(d)
    for r in kinds.get("Role", []):
        check_role(r)
    for p in problems:
        print(p)
    print(f"manifests.py: {len(docs)} objects, {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
