"""Field validation of writes to built-in kinds, with the real server's answers.

- create and update bodies: a wrong type is a 400 from the JSON decoder; unknown fields are
  dropped, with a `Warning` header (fieldValidation Warn, the default), silently (Ignore), or
  refused with a 400 "strict decoding error" (Strict);
- merge, JSON and strategic merge patches: the same checks on the patched object, refused with a
  422 on the `patch` field;
- server-side apply: any unknown field or wrong type, whatever the fieldValidation, is a 500
  "failed to create typed patch object" (the typed patch cannot be built).

Checked objects come back pruned of unknown fields, with quantities in canonical form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from kubesim import schema
from kubesim.errors import ApiError, Cause, Reason, bad_request, invalid


class FieldValidation(StrEnum):
    STRICT = "Strict"
    WARN = "Warn"
    IGNORE = "Ignore"


def field_validation(value: str | None) -> FieldValidation:
    if not value:
        return FieldValidation.WARN
    try:
        return FieldValidation(value)
    except ValueError:
        raise bad_request(
            f'fieldValidation must be one of "Ignore", "Warn" or "Strict", got "{value}"'
        ) from None


def _cannot_handle(kind: str, version: str, detail: str) -> ApiError:
    return bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {detail}')


def _unknown_text(unknown: list[str]) -> str:
    return ", ".join(f'unknown field "{u}"' for u in unknown)


def check_body(
    root: str | None,
    kind: str,
    version: str,
    obj: dict[str, Any],
    mode: FieldValidation,
    warnings: list[str],
) -> dict[str, Any]:
    """A create or update body, checked and pruned (see the module docstring)."""
    if root is None:
        return obj
    pruned, found = schema.check(root, obj)
    if found.wrong:
        raise _cannot_handle(kind, version, found.wrong[0].decode_message())
    if found.base64:
        raise _cannot_handle(kind, version, found.base64)
    _unknown(
        found.unknown,
        mode,
        warnings,
        lambda: _cannot_handle(
            kind, version, "strict decoding error: " + _unknown_text(found.unknown)
        ),
    )
    return pruned


def check_patched(
    root: str | None,
    patched: dict[str, Any],
    patch: Any,
    *,
    strategic: bool,
    mode: FieldValidation,
    warnings: list[str],
) -> dict[str, Any]:
    """An object after a merge, JSON or strategic merge patch, checked and pruned."""
    if root is None:
        return patched
    pruned, found = schema.check(root, patched)
    shown = (
        schema.go_format(patch)
        if strategic
        else json.dumps(patched, sort_keys=True, separators=(",", ":"))
    )
    value = f"Invalid value: {json.dumps(shown, ensure_ascii=False)}"

    def refused(detail: str) -> ApiError:
        return invalid("", "", [Cause("FieldValueInvalid", f"{value}: {detail}", "patch")])

    if found.wrong:
        raise refused(found.wrong[0].decode_message())
    if found.base64:
        raise refused(found.base64)
    _unknown(
        found.unknown,
        mode,
        warnings,
        lambda: refused("strict decoding error: " + _unknown_text(found.unknown)),
    )
    return pruned


def check_applied(
    root: str | None, applied: Mapping[str, Any], *, name: str, api_version: str, kind: str
) -> dict[str, Any]:
    """An applied configuration: a 500 when it cannot be typed; canonical quantities."""
    if root is None:
        return dict(applied)
    pruned, found = schema.check(root, applied)
    namespace = str((applied.get("metadata") or {}).get("namespace") or "")
    gvk = f"{api_version if '/' in api_version else '/' + api_version}, Kind={kind}"
    subject = f"({namespace}/{name}; {gvk})"
    if found.apply_errors:
        raise ApiError(
            500,
            Reason.NONE,
            f"failed to create typed patch object {subject}: "
            + schema.apply_error_text(found.apply_errors),
        )
    if found.base64:
        raise ApiError(
            500,
            Reason.NONE,
            f"failed to convert new object {subject} to proper "
            f"version: unable to convert unstructured object to {gvk}: error "
            f"decoding from json: {found.base64}",
        )
    return pruned


def _unknown(unknown: list[str], mode: FieldValidation, warnings: list[str], strict: Any) -> None:
    if not unknown or mode is FieldValidation.IGNORE:
        return
    if mode is FieldValidation.STRICT:
        raise strict()
    warnings.extend(f'unknown field "{u}"' for u in unknown)
