"""YAML's safe loader from libyaml's C parser where PyYAML was built with it (several times
faster than the pure-Python one, the same values), else the pure-Python one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    FastSafeLoader = yaml.CSafeLoader
else:  # a PyYAML built without libyaml has no CSafeLoader
    FastSafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
WITH_LIBYAML = hasattr(yaml, "CSafeLoader")
"""Whether PyYAML was built with libyaml (its C parser)."""


def safe_load(text: str) -> Any:
    """`yaml.safe_load` through `FastSafeLoader`: raises `yaml.YAMLError` the same way."""
    return yaml.load(text, Loader=FastSafeLoader)
