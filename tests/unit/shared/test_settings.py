"""Settings from the environment: defaults, and a clear error for a bad value."""

from __future__ import annotations

import pytest

from fleetsync.shared.settings import load_settings


def test_the_kube_client_cache_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLEETSYNC_KUBE_CLIENTS", raising=False)
    assert load_settings().kube_clients == 512
    monkeypatch.setenv("FLEETSYNC_KUBE_CLIENTS", "2000")
    assert load_settings().kube_clients == 2000


@pytest.mark.parametrize("bad", ["0", "-3", "many"])
def test_a_bad_kube_client_cache_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv("FLEETSYNC_KUBE_CLIENTS", bad)
    with pytest.raises(ValueError, match=r"FLEETSYNC_KUBE_CLIENTS=.*whole number of 1 or more"):
        load_settings()
