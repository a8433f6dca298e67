"""Boolean query parameters as the API server reads them."""

from __future__ import annotations

from collections.abc import Mapping


def query_flag(query: Mapping[str, str], name: str) -> bool:
    """`?name=...` as a real API server reads it: absent is false; "0" and "false" (in any
    case) are false; anything else, "f", "no" and an empty value too, is true (so a client that
    sends `force=None` forces)."""
    if name not in query:
        return False
    return query[name].lower() not in ("0", "false")
