"""Repository URLs as comparable keys: a push names its repository in several forms (https, scp-
like ssh, ssh://, git://, a web page URL) and fleet.yaml declares one; they match when their keys
are equal.

The key is deliberately forgiving (case, `.git`, trailing slashes, user and port are dropped):
a false match costs one extra ls-remote, a missed one costs a webhook that does nothing.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?(?P<host>[^:/\s]{2,}):(?P<path>\S+)$")
"""`[user@]host:path` (git's scp-like syntax); a one-letter host would be a Windows drive."""


def repo_url_key(url: str) -> str:
    """`host/org/repo` for a remote URL in any form, `file:/abs/path` for a local repository."""
    text = url.strip()
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme.lower() == "file":
            return _local_key(parts.path)
        return _remote_key(parts.hostname or "", parts.path)
    if text.startswith(("/", ".")):
        return _local_key(text)
    scp = _SCP_LIKE.match(text)
    if scp is not None:
        return _remote_key(scp["host"], scp["path"])
    return _local_key(text)


def _remote_key(host: str, path: str) -> str:
    return f"{host.lower()}/{_strip_repo_suffix(path).lower()}"


def _local_key(path: str) -> str:
    root = "/" if path.strip().startswith("/") else ""
    return f"file:{root}{_strip_repo_suffix(path)}"


def _strip_repo_suffix(path: str) -> str:
    trimmed = path.strip().strip("/")
    return trimmed.removesuffix(".git").rstrip("/")
