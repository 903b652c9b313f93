#!/usr/bin/env python3
"""A Kubernetes API server that knows only what `kubectl apply --dry-run=client` asks of it.

It serves discovery in the older form (/version, /api, /apis, /api/v1 and one APIResourceList
per group of the kinds rollbot's manifests use) and answers every object GET with a NotFound
Status, so kubectl maps each kind to its resource, finds nothing there and reports what it
would create. Nothing is stored. Listens on 127.0.0.1, port 0; prints the port on stdout.
Used by deploy/checks/manifests.sh; logs every request on stderr.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RESOURCES = {
    "v1": [
        ("configmaps", "ConfigMap", True),
        ("namespaces", "Namespace", False),
        ("persistentvolumeclaims", "PersistentVolumeClaim", True),
        ("pods", "Pod", True),
        ("secrets", "Secret", True),
        ("serviceaccounts", "ServiceAccount", True),
        ("services", "Service", True),
    ],
    "apps/v1": [("deployments", "Deployment", True), ("replicasets", "ReplicaSet", True)],
    "rbac.authorization.k8s.io/v1": [
        ("roles", "Role", True),
        ("rolebindings", "RoleBinding", True),
        ("clusterroles", "ClusterRole", False),
        ("clusterrolebindings", "ClusterRoleBinding", False),
    ],
}
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def resource_list(group_version):
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [
            {"name": name, "singularName": kind.lower(), "namespaced": namespaced,
             "kind": kind, "verbs": VERBS}
            for name, kind, namespaced in RESOURCES[group_version]
        ],
    }


def group_list():
    groups = []
    for gv in RESOURCES:
        if "/" not in gv:
            continue
        name, version = gv.split("/")
        entry = {"groupVersion": gv, "version": version}
        groups.append({"name": name, "versions": [entry], "preferredVersion": entry})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/version":
            return self.answer(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.4"})
        if path == "/api":
            return self.answer(200, {"kind": "APIVersions", "versions": ["v1"]})
        if path == "/apis":
            return self.answer(200, group_list())
        if path == "/api/v1":
            return self.answer(200, resource_list("v1"))
        if path.startswith("/apis/"):
            gv = path[len("/apis/"):]
            if gv in RESOURCES:
                return self.answer(200, resource_list(gv))
        name = path.rsplit("/", 1)[-1]
        return self.answer(404, {
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
            "message": f'"{name}" not found', "code": 404})

    def do_POST(self):  # server-side dry runs are not what this fake is for
        self.answer(405, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                          "message": "fake_apiserver: only discovery and GET", "code": 405})

    do_PATCH = do_PUT = do_DELETE = do_POST

    def log_message(self, fmt, *args):
        sys.stderr.write("fake_apiserver: " + (fmt % args) + "\n")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
