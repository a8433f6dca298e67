"""How a failed render or fetch is worded in status (the failure names its application or
repository, once), and the bounds every render gets from the settings."""

from __future__ import annotations

from fleetsync.shared.errors import PermanentError
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.settings import Settings
from fleetsync.shared.source import _about, _chart_source_revision, render_limits


def test_an_error_that_is_not_fleetsync_s_is_prefixed_with_its_subject() -> None:
    assert _about("web", ValueError("bad input\nsecret: x")) == "web: ValueError: bad input"


def test_fleetsync_s_own_errors_already_name_their_subject() -> None:
    assert _about("web", PermanentError("web: no such path apps/web")) == (
        "web: no such path apps/web"
    )


def test_the_render_limits_are_the_settings_in_bytes_and_seconds() -> None:
    limits = render_limits(Settings(render_timeout=30.0, render_memory_mib=256))
    assert (limits.timeout_seconds, limits.max_memory_bytes) == (30.0, 256 * 2**20)


def test_a_chart_source_s_revision_is_what_its_poll_recorded_else_named_for_charts() -> None:
    sha = "d" * 64
    recorded = f"podinfo@6.7.1@sha256:{sha}"
    assert _chart_source_revision(recorded, sha) == Revision.parse(recorded)
    assert _chart_source_revision(None, sha) == Revision(ref="charts", sha=sha, algorithm="sha256")
    assert _chart_source_revision("podinfo", sha) == Revision(
        ref="podinfo", sha=sha, algorithm="sha256"
    )
