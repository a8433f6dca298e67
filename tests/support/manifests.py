"""Kubernetes objects as the text a repository holds, for tests that commit them."""

from __future__ import annotations

import textwrap


def configmap(name: str, value: str = "1") -> str:
    """A ConfigMap `name` holding `value` under the key `value` (quoted: always a string)."""
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {name}
        data:
          value: "{value}"
        """)
