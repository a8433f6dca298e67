"""Protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded into JSON objects.

kubectl's typed commands (`kubectl create namespace`, `create deployment` ...) send built-in
objects as protobuf: the magic `k8s\\x00`, then a `runtime.Unknown` envelope whose `typeMeta`
names the apiVersion and kind and whose `raw` holds the object's message. The messages are
decoded with the table in `data/builtin-proto.json` (field numbers, JSON names and types, made
by `protogen` from the descriptors compiled into a real kube-apiserver), into the object the
real server would hold after decoding it: what Go's JSON encoding of the decoded struct gives
(zero values of non-pointer optional scalars left out, `creationTimestamp: null`, quantities and
int-or-strings as their JSON forms, bytes as base64).
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
DATA = Path(__file__).parent / "data" / "builtin-proto.json"
_MAX_DEPTH = 64

Field = tuple[int, int, Any]
"""(field number, wire type, value): a varint as int, length-delimited as bytes."""


class ProtobufError(ValueError):
    """A body that is not the protobuf it claims to be."""


class NotProtobuf(ProtobufError):
    """A body without the protobuf magic or a readable envelope."""


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ProtobufError("unexpected EOF")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def read_fields(data: bytes) -> Iterator[Field]:
    """The fields of one message, in wire order."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = read_varint(data, pos)
        elif wire == 2:
            size, pos = read_varint(data, pos)
            if pos + size > end:
                raise ProtobufError("unexpected EOF")
            value, pos = data[pos : pos + size], pos + size
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        if pos > end:
            raise ProtobufError("unexpected EOF")
        yield number, wire, value


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


@cache
def table() -> dict[str, Any]:
    """The distilled message table (loaded on first use)."""
    loaded: dict[str, Any] = json.loads(DATA.read_text())
    return loaded


def _go_time(seconds: int, nanos: int, micro: bool) -> str:
    instant = datetime.fromtimestamp(seconds, UTC)
    if micro:
        return instant.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1000:06d}Z"
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def _go_duration(nanos: int) -> str:
    """Go's `time.Duration.String()` for whole units (`1h0m0s`, `1.5s`, `0s`)."""
    if nanos == 0:
        return "0s"
    sign, nanos = ("-", -nanos) if nanos < 0 else ("", nanos)
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                return sign + f"{nanos / size:g}" + unit
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = f"{rest / 1e9:.9f}".rstrip("0").rstrip(".")
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _special(name: str, data: bytes) -> tuple[bool, Any]:
    """Messages whose JSON form is not an object of their fields."""
    if name in ("meta.v1.Time", "meta.v1.MicroTime"):
        if not data:
            return True, None
        values = {n: v for n, _, v in read_fields(data)}
        return True, _go_time(
            _signed(values.get(1, 0)), values.get(2, 0), name.endswith("MicroTime")
        )
    if name == "meta.v1.Duration":
        values = {n: v for n, _, v in read_fields(data)}
        return True, _go_duration(_signed(values.get(1, 0)))
    if name == "api.resource.Quantity":
        values = {n: v for n, _, v in read_fields(data)}
        return True, bytes(values.get(1, b"")).decode()
    if name == "util.intstr.IntOrString":
        values = {n: v for n, _, v in read_fields(data)}
        if values.get(1, 0) == 1:
            return True, bytes(values.get(3, b"")).decode()
        return True, _signed(values.get(2, 0))
    if name in ("runtime.RawExtension", "meta.v1.FieldsV1", "apiextensions.v1.JSON"):
        raw = next((v for n, _, v in read_fields(data) if n == 1), b"")
        if not raw:
            return True, None
        try:
            return True, json.loads(raw)
        except ValueError:
            raise ProtobufError(f"{name} does not hold JSON") from None
    return False, None


def _scalar(kind: str, wire: int, value: Any) -> Any:
    if kind == "string":
        return bytes(value).decode()
    if kind == "bytes":
        return base64.b64encode(value).decode()
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return _signed(value)
    if kind == "double":
        return struct.unpack("<d", value)[0] if wire == 1 else float(value)
    raise ProtobufError(f"unknown scalar type {kind}")


def _zero(value: Any) -> bool:
    return value in ("", 0, False) and not isinstance(value, float | dict | list)


def _packed(kind: str, wire: int, value: Any) -> list[Any]:
    """The elements of a repeated scalar field (packed in one field, or one per field)."""
    if wire != 2 or kind in ("string", "bytes"):
        return [_scalar(kind, wire, value)]
    out, pos = [], 0
    while pos < len(value):
        item, pos = read_varint(value, pos)
        out.append(_scalar(kind, 0, item))
    return out


def decode_message(name: str, data: bytes, depth: int = 0) -> Any:
    """One message as the JSON value Go would encode for it."""
    if depth > _MAX_DEPTH:
        raise ProtobufError("message nested too deeply")
    special, value = _special(name, data)
    if special:
        return value
    spec = table()["messages"].get(name)
    if spec is None:
        raise ProtobufError(f"no protobuf schema for {name}")
    fields = spec["fields"]
    out: dict[str, Any] = {}
    for number, wire, raw in read_fields(data):
        entry = fields.get(str(number))
        if entry is None:
            continue  # a field newer than the table: Go would skip it too
        key, kind, flags = entry
        if "m" in flags:
            items = {n: v for n, _, v in read_fields(raw)}
            k = bytes(items.get(1, b"")).decode()
            vwire = 2 if "." in kind or kind in ("string", "bytes") else 0
            v = items.get(2, b"" if vwire == 2 else 0)
            out.setdefault(key, {})[k] = (
                decode_message(kind, v, depth + 1) if "." in kind else _scalar(kind, vwire, v)
            )
        elif "." in kind:
            decoded = decode_message(kind, raw, depth + 1)
            if "r" in flags:
                out.setdefault(key, []).append(decoded)
            elif "i" in flags and isinstance(decoded, dict):
                out.update(decoded)
            else:
                out[key] = decoded
        elif "r" in flags:
            out.setdefault(key, []).extend(_packed(kind, wire, raw))
        else:
            scalar = _scalar(kind, wire, raw)
            if "z" not in flags and _zero(scalar):
                out.pop(key, None)
                continue
            out[key] = scalar
    return out


def decode_object(body: bytes) -> dict[str, Any]:
    """A `k8s\\x00` protobuf body as the JSON object it carries (apiVersion and kind first)."""
    if not body.startswith(MAGIC):
        raise NotProtobuf(
            "provided data does not appear to be a protobuf message, expected "
            f"prefix [107 56 115 0] ({body[:64].hex()})"
        )
    try:
        envelope = {n: v for n, _, v in read_fields(body[len(MAGIC) :])}
        type_meta = {n: bytes(v).decode() for n, _, v in read_fields(envelope.get(1, b""))}
    except ProtobufError as exc:
        raise NotProtobuf(f"{exc} ({body[:64].hex()})") from None
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
    encoding = bytes(envelope.get(3, b"")).decode()
    if encoding:
        raise ProtobufError(f"content encoding {encoding!r} is not supported")
    group, _, version = api_version.rpartition("/")
    message = table()["kinds"].get(f"{group}/{version}/{kind}")
    if message is None:
        raise ProtobufError(f"no protobuf schema for {api_version}, Kind={kind}")
    decoded = decode_message(message, bytes(envelope.get(2, b"")))
    return {"apiVersion": api_version, "kind": kind, **decoded}
