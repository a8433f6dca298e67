"""How a failed render or fetch is worded in status (the failure names its application or
repository, once), and the bounds every render gets from the settings."""

from __future__ import annotations

from fleetsync.shared.errors import PermanentError
from fleetsync.shared.settings import Settings
from fleetsync.shared.source import _about, render_limits


def test_an_error_that_is_not_fleetsync_s_is_prefixed_with_its_subject() -> None:
    assert _about("web", ValueError("bad input\nsecret: x")) == "web: ValueError: bad input"


def test_fleetsync_s_own_errors_already_name_their_subject() -> None:
    assert _about("web", PermanentError("web: no such path apps/web")) == (
        "web: no such path apps/web"
    )


def test_the_render_limits_are_the_settings_in_bytes_and_seconds() -> None:
    limits = render_limits(Settings(render_timeout=30.0, render_memory_mib=256))
    assert (limits.timeout_seconds, limits.max_memory_bytes) == (30.0, 256 * 2**20)
