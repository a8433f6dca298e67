"""Distil the protobuf messages of the built-in kinds into kubesim's protobuf table.

    python -m kubesim.protogen KUBE_APISERVER KUBECONFIG [OUT]
        (OUT: kubesim/data/builtin-proto.json)

A kube-apiserver binary carries the compiled descriptors of the Kubernetes `generated.proto`
files (gzipped `FileDescriptorProto`s). This reads them with kubesim's own wire decoder and
keeps, for every message a built-in kind reaches, each field's number, JSON name, type and what
Go does with it: whether the field is a pointer (gogoproto `nullable`, so a zero value that was
sent is kept), required by the server's OpenAPI schema (kept even when zero), repeated, a map,
or embedded inline (`json:",inline"`, found as a message field the schema has no property for).
KUBECONFIG reaches a server of the same version, for the OpenAPI schemas; `realk8s` starts one.
"""

from __future__ import annotations

import json
import re
import sys
import zlib
from pathlib import Path
from typing import Any

from kubesim.apigen import Reader, short
from kubesim.protobuf import read_fields
from kubesim.schema import table as api_table

OUT = Path(__file__).parent / "data" / "builtin-proto.json"
_GZIP = re.compile(rb"\x1f\x8b\x08\x00\x00\x00\x00\x00")
_NULLABLE = 65001
"""gogoproto's `nullable` field option: false for a field held by value in Go."""
_SCALARS = {
    1: "double",
    3: "int",
    4: "int",
    5: "int",
    8: "bool",
    9: "string",
    12: "bytes",
    13: "int",
}
_REPEATED = 3
_MESSAGE = 11
ROOTS = ("runtime.Unknown", "meta.v1.DeleteOptions")


def descriptors(binary: bytes) -> list[bytes]:
    """The gzipped FileDescriptorProtos of `.proto` files embedded in a Go binary."""
    found = []
    for m in _GZIP.finditer(binary):
        try:
            data = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(
                binary[m.start() : m.start() + 4_000_000]
            )
        except zlib.error:
            continue
        fields = list(read_fields(data)) if data[:1] == b"\n" else []
        if fields and fields[0][0] == 1 and bytes(fields[0][2]).endswith(b".proto"):
            found.append(data)
    return found


def _proto_to_def(full: str) -> str:
    """`.k8s.io.api.core.v1.Container` -> `core.v1.Container` (the OpenAPI schema's name)."""
    name = full.lstrip(".")
    if name.startswith("k8s.io."):
        name = "io.k8s." + name[len("k8s.io.") :]
    return short(name.replace("_", "-"))


def _collect(files: list[bytes]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(message name -> raw field descriptors, map entry name -> its value field)."""
    messages: dict[str, Any] = {}
    entries: dict[str, Any] = {}

    def visit(prefix: str, raw: bytes) -> None:
        parts = list(read_fields(raw))
        name = prefix + "." + bytes(next(v for n, _, v in parts if n == 1)).decode()
        options = b"".join(v for n, _, v in parts if n == 7)
        fields = [dict((n, v) for n, _, v in read_fields(f)) for n, _, f in parts if n == 2]
        if any(n == 7 and v for n, _, v in read_fields(options)):
            entries[name] = next(f for f in fields if f.get(3) == 2)
            return
        messages[name] = fields
        for n, _, nested in parts:
            if n == 3:
                visit(name, nested)

    for data in files:
        parts = list(read_fields(data))
        package = bytes(next((v for n, _, v in parts if n == 2), b"")).decode()
        for n, _, raw in parts:
            if n == 4:
                visit("." + package, raw)
    return messages, entries


def _nullable(field: dict[int, Any]) -> bool:
    for n, _, v in read_fields(field.get(8, b"")):
        if n == _NULLABLE:
            return bool(v)
    return True


def build(files: list[bytes], required: dict[str, list[str]]) -> dict[str, Any]:
    messages, entries = _collect(files)
    by_def = {_proto_to_def(k): k for k in messages}
    defs = api_table()["defs"]
    out: dict[str, Any] = {}
    pending = [*ROOTS, *(v for v in api_table()["kinds"].values() if v in by_def)]
    while pending:
        name = pending.pop()
        if name in out or name not in by_def:
            continue
        props = (defs.get(name) or {}).get("props")
        fields: dict[str, Any] = {}
        for f in messages[by_def[name]]:
            key = bytes(f[1]).decode()
            flags = ""
            type_name = bytes(f.get(6, b"")).decode()
            if type_name in entries:
                flags += "m"
                value = entries[type_name]
                kind = (
                    _proto_to_def(bytes(value[6]).decode())
                    if value.get(5) == _MESSAGE
                    else _SCALARS[value[5]]
                )
            elif f.get(5) == _MESSAGE:
                kind = _proto_to_def(type_name)
                if f.get(4) == _REPEATED:
                    flags += "r"
                elif not _nullable(f) and props is not None and key not in props:
                    flags += "i"
            else:
                kind = _SCALARS[f[5]]
                if f.get(4) == _REPEATED:
                    flags += "r"
                elif _nullable(f) or key in required.get(name, ()):
                    flags += "z"
            if "." in kind:
                pending.append(kind)
            fields[str(f[3])] = [key, kind, flags]
        out[name] = {"fields": fields}
    kinds = {k: v for k, v in api_table()["kinds"].items() if v in out}
    return {"source": api_table()["source"], "kinds": kinds, "messages": dict(sorted(out.items()))}


def required_fields(reader: Reader) -> dict[str, list[str]]:
    """The `required` list of every schema the server's OpenAPI v3 documents."""
    out: dict[str, list[str]] = {}
    for entry in reader.get("/openapi/v3")["paths"].values():
        doc = reader.get(entry["serverRelativeURL"])
        for name, spec in doc.get("components", {}).get("schemas", {}).items():
            if spec.get("required"):
                out[short(name)] = list(spec["required"])
    return out


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[2]) if len(argv) > 2 else OUT
    files = descriptors(Path(argv[0]).read_bytes())
    result = build(files, required_fields(Reader(Path(argv[1]))))
    out.write_text(json.dumps(result, separators=(",", ":"), sort_keys=True) + "\n")
    print(
        f"{out}: {len(result['messages'])} messages, {len(result['kinds'])} kinds "
        f"from {len(files)} descriptors"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
