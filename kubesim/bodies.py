"""Request bodies: size limits and decoding of JSON and YAML, with the server's error wording."""

from __future__ import annotations

import json
from typing import Any

import yaml

from kubesim import protobuf
from kubesim.errors import bad_request, unsupported_media_type

MAX_BODY_BYTES = 3 * 1024 * 1024
"""The API server's limit on a request body (3 MiB); larger bodies get 413."""

UNSUPPORTED_MEDIA = frozenset({"application/cbor"})
"""Encodings the real server accepts but kubesim does not (it answers 415)."""

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader


def decode_yaml_or_json(body: bytes) -> Any:
    """Decode an apply body (YAML, of which JSON is a subset); ValueError when malformed."""
    stripped = body.lstrip()
    if stripped.startswith(b"{"):
        try:
            return json.loads(body)
        except ValueError:
            pass
    try:
        return yaml.load(body, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ValueError(f"yaml: {exc}") from None


def decode_json(body: bytes, content_type: str, kind: str = "", version: str = "") -> Any:
    """Decode a create/update body (JSON, protobuf, or YAML when the client sent YAML)."""
    if not body:
        raise bad_request("the request body is empty")
    media = content_type.split(";", 1)[0].strip()
    if media in UNSUPPORTED_MEDIA:
        raise unsupported_media_type(media)
    try:
        if media == protobuf.MEDIA_TYPE:
            return _decode_protobuf(body, kind, version)
        if media in ("application/yaml", "application/apply-patch+yaml"):
            return decode_yaml_or_json(body)
        return json.loads(body)
    except ValueError as exc:
        raise bad_request(
            f"the object provided is unrecognized (error decoding body: {exc})"
        ) from None


def _decode_protobuf(body: bytes, kind: str, version: str) -> Any:
    try:
        return protobuf.decode_object(body)
    except protobuf.NotProtobuf as exc:
        raise bad_request(
            f"the object provided is unrecognized (must be of type {kind}): {exc}"
        ) from None
    except protobuf.ProtobufError as exc:
        raise bad_request(
            f'{kind} in version "{version}" cannot be handled as a {kind}: {exc}'
        ) from None
