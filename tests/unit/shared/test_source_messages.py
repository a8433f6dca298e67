"""How a failed render or fetch is worded in status: the failure names its application or
repository, once."""

from __future__ import annotations

from fleetsync.shared.errors import PermanentError
from fleetsync.shared.source import _about


def test_an_error_that_is_not_fleetsync_s_is_prefixed_with_its_subject() -> None:
    assert _about("web", ValueError("bad input\nsecret: x")) == "web: ValueError: bad input"


def test_fleetsync_s_own_errors_already_name_their_subject() -> None:
    assert _about("web", PermanentError("web: no such path apps/web")) == (
        "web: no such path apps/web"
    )
