"""Distil a real API server's discovery and OpenAPI v3 into kubesim's built-in API table.

    python -m kubesim.apigen KUBECONFIG [OUT]     (OUT: kubesim/data/builtin-api.json)

kubesim serves what this file lists: the resources of every generally available group-version
(no alpha, no beta) that it can store, with their scope, verbs, short names and categories, and
a compact schema of every kind (field types, list and map merge types, atomic structs) that
`schema` uses to validate, prune and merge like the real server, and the columns of the Table
each resource is listed as (`kubectl get`). Run it against a real cluster
(`../shared/k8s/realk8s` starts one) when kubesim should follow a newer Kubernetes.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).parent / "data" / "builtin-api.json"
_STABLE = re.compile(r"^v\d+$")
VIRTUAL = frozenset(
    {
        "bindings",
        "componentstatuses",
        "tokenreviews",
        "subjectaccessreviews",
        "selfsubjectaccessreviews",
        "selfsubjectrulesreviews",
        "localsubjectaccessreviews",
        "selfsubjectreviews",
    }
)
"""Resources that are verbs in disguise (nothing is stored): kubesim does not serve them."""
SUBRESOURCES = ("status", "scale", "finalize")
"""The subresources kubesim serves (others, such as pods/exec or pods/log, are not)."""
_PREFIXES = (
    "io.k8s.api.",
    "io.k8s.apimachinery.pkg.apis.",
    "io.k8s.apimachinery.pkg.",
    "io.k8s.apiextensions-apiserver.pkg.apis.",
    "io.k8s.kube-aggregator.pkg.apis.",
)
SCALARS = {
    "api.resource.Quantity": "quantity",
    "util.intstr.IntOrString": "int-or-string",
    "meta.v1.Time": "time",
    "meta.v1.MicroTime": "time",
    "runtime.RawExtension": "any",
    "meta.v1.FieldsV1": "any",
    "apiextensions.v1.JSON": "any",
    "apiextensions.v1.JSONSchemaPropsOrArray": "any",
    "apiextensions.v1.JSONSchemaPropsOrBool": "any",
    "apiextensions.v1.JSONSchemaPropsOrStringArray": "any",
}


def short(name: str) -> str:
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    return name


class Reader:
    def __init__(self, kubeconfig: Path) -> None:
        conf = yaml.safe_load(kubeconfig.read_text())
        context = next(c for c in conf["contexts"] if c["name"] == conf["current-context"])
        cluster = next(c for c in conf["clusters"] if c["name"] == context["context"]["cluster"])
        user = next(u for u in conf["users"] if u["name"] == context["context"]["user"])
        self.server = cluster["cluster"]["server"]
        self.token = user["user"].get("token", "")
        self.ssl = ssl.create_default_context()
        ca = cluster["cluster"].get("certificate-authority-data")
        if ca:
            with tempfile.NamedTemporaryFile("wb", suffix=".crt", delete=False) as f:
                f.write(base64.b64decode(ca))
            self.ssl.load_verify_locations(f.name)

    def get(self, path: str, accept: str = "application/json") -> Any:
        req = urllib.request.Request(
            self.server + path, headers={"Authorization": f"Bearer {self.token}", "Accept": accept}
        )
        with urllib.request.urlopen(req, context=self.ssl, timeout=30) as resp:
            return json.loads(resp.read())


def _node(spec: dict[str, Any], schemas: dict[str, Any]) -> Any:
    """The compact type of one OpenAPI property."""
    ref = spec.get("$ref") or next((a["$ref"] for a in spec.get("allOf", ()) if "$ref" in a), None)
    if ref is not None:
        name = short(ref.rsplit("/", 1)[1])
        # "$": a struct held by value (always present, even empty); "#": by pointer (optional)
        return SCALARS.get(name, ("$" if "default" in spec else "#") + name)
    kind = spec.get("type")
    if spec.get("x-kubernetes-int-or-string") or spec.get("format") == "int-or-string":
        return "int-or-string"
    if kind == "array":
        out: dict[str, Any] = {"list": _node(spec.get("items") or {}, schemas)}
        list_type = spec.get("x-kubernetes-list-type")
        strategy = str(spec.get("x-kubernetes-patch-strategy", ""))
        merge_key = spec.get("x-kubernetes-patch-merge-key")
        if list_type == "map":
            out["keys"] = list(spec.get("x-kubernetes-list-map-keys") or [merge_key])
        elif list_type == "set" or (list_type is None and "merge" in strategy and not merge_key):
            out["set"] = True
        elif list_type is None and "merge" in strategy and merge_key:
            out["keys"] = [merge_key]
        if merge_key:
            out["merge"] = merge_key
        return out
    if kind == "object" and "additionalProperties" in spec:
        out = {"map": _node(spec["additionalProperties"] or {}, schemas)}
        if spec.get("x-kubernetes-map-type") == "atomic":
            out["atomic"] = True
        return out
    if kind == "object" and not spec.get("properties"):
        return "any"
    if kind == "string" and spec.get("format") == "byte":
        return "bytes"
    if kind == "integer":
        return "int64" if spec.get("format") == "int64" else "int32"
    if kind == "number":
        return "number"
    if kind in ("string", "boolean"):
        return str(kind)
    return "any"


def _struct(spec: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "props": {k: _node(v, schemas) for k, v in (spec.get("properties") or {}).items()}
    }
    if spec.get("x-kubernetes-map-type") == "atomic":
        out["atomic"] = True
    if spec.get("required"):
        out["required"] = sorted(spec["required"])
    return out


TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
_COLUMN_KEYS = ("name", "type", "format", "description", "priority")


def columns(reader: Reader, base: str, resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The columns `kubectl get` shows for a resource (the server's Table definitions)."""
    table = reader.get(f"{base}/{resource['name']}?limit=1", accept=TABLE)
    return [{k: c.get(k) for k in _COLUMN_KEYS} for c in table["columnDefinitions"]]


def collect(reader: Reader) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    printed: dict[str, list[dict[str, Any]]] = {}
    defs: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    group_versions = [("", "v1")]
    for group in reader.get("/apis")["groups"]:
        group_versions += [
            (group["name"], v["version"]) for v in group["versions"] if _STABLE.match(v["version"])
        ]
    index = reader.get("/openapi/v3")["paths"]
    for group, version in group_versions:
        base = f"/apis/{group}/{version}" if group else f"/api/{version}"
        if base.lstrip("/") not in index:  # served by an aggregated server (no schema here)
            continue
        listed = reader.get(base)["resources"]
        names = {r["name"] for r in listed}
        doc = reader.get(index[base.lstrip("/")]["serverRelativeURL"])
        schemas = doc["components"]["schemas"]
        for name, spec in schemas.items():
            if short(name) not in SCALARS:
                defs.setdefault(short(name), _struct(spec, schemas))
            for gvk in spec.get("x-kubernetes-group-version-kind") or ():
                if (gvk["group"], gvk["version"]) == (group, version):
                    kinds[f"{group}/{version}/{gvk['kind']}"] = short(name)
        for r in listed:
            if "/" in r["name"] or r["name"] in VIRTUAL:
                continue
            resources.append(
                {
                    "group": group,
                    "version": version,
                    "name": r["name"],
                    "kind": r["kind"],
                    "namespaced": r["namespaced"],
                    "verbs": r["verbs"],
                    "shortNames": r.get("shortNames", []),
                    "categories": r.get("categories", []),
                    "subresources": [s for s in SUBRESOURCES if f"{r['name']}/{s}" in names],
                    "singularName": r.get("singularName") or r["kind"].lower(),
                }
            )
            if "list" in r["verbs"] and f"{group}/{r['name']}" not in printed:
                printed[f"{group}/{r['name']}"] = columns(reader, base, r)
    version = reader.get("/version")["gitVersion"]
    return {
        "source": version,
        "resources": resources,
        "kinds": kinds,
        "defs": defs,
        "columns": printed,
    }


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[1]) if len(argv) > 1 else OUT
    table = collect(Reader(Path(argv[0])))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(table, separators=(",", ":"), sort_keys=True) + "\n")
    print(
        f"{out}: {len(table['resources'])} resources, {len(table['defs'])} types "
        f"from {table['source']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
