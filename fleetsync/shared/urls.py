"""URLs as fleetsync shows them: never with their userinfo.

A URL in fleet.yaml may carry a user name (`ssh://git@host/...`, `git@host:org/repo`); a Redis URL
may carry a password; git's own messages quote the URLs it was given. Whatever fleetsync prints,
logs, stores as an error or serves over the API goes through here first: `display_url` for one
URL (any form: scheme://, scp-like, a local path), `redact_urls` for free text that may quote
URLs. A notification's URL may hold its secret in its path (Slack's do): it is shown as
`display_url(url, path=False)`, scheme and host only.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

SCP_LIKE = re.compile(r"(?:[^@/:\s]+@)?[A-Za-z0-9._-]+:(?!//)\S+")
"""`[user@]host:path`, git's scp-like syntax for ssh."""
_USERINFO = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s'\"]*@")


def display_url(url: str, *, path: bool = True) -> str:
    """The URL without its userinfo, fit for a table, a log line or an error message. With
    `path=False`, only its scheme and host, then `/...` when it had more: for URLs whose path
    or query is itself a secret (a Slack webhook's, a notification's)."""
    if "://" in url:
        try:
            parts = urlsplit(url)
        except ValueError:
            return url.rpartition("@")[2] if "@" in url else url
        netloc = parts.netloc.rpartition("@")[2]
        if not path:
            more = "/..." if parts.path.strip("/") or parts.query or parts.fragment else ""
            return f"{parts.scheme}://{netloc}{more}"
        shown = urlunsplit(parts._replace(netloc=netloc))
        if not netloc and not shown.startswith(f"{parts.scheme}://"):
            shown = f"{parts.scheme}://{shown.partition(':')[2]}"  # unix:///path, not unix:/path
        return shown
    if SCP_LIKE.fullmatch(url):
        return url.partition("@")[2] if "@" in url.partition(":")[0] else url
    return url


def redact_urls(text: str) -> str:
    """`text` with the userinfo (`user:password@`) of every scheme:// URL in it removed."""
    return _USERINFO.sub(r"\1", text)
