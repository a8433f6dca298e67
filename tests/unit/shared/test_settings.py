"""Settings from the environment: defaults, and a clear error for a bad value."""

from __future__ import annotations

import pytest

from fleetsync.shared.settings import load_settings


def test_the_kube_client_cache_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLEETSYNC_KUBE_CLIENTS", raising=False)
    assert load_settings().kube_clients is None  # unset: a client per cluster of the fleet
    monkeypatch.setenv("FLEETSYNC_KUBE_CLIENTS", "")
    assert load_settings().kube_clients is None
    monkeypatch.setenv("FLEETSYNC_KUBE_CLIENTS", "2000")
    assert load_settings().kube_clients == 2000


@pytest.mark.parametrize("bad", ["0", "-3", "many"])
def test_a_bad_kube_client_cache_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv("FLEETSYNC_KUBE_CLIENTS", bad)
    with pytest.raises(ValueError, match=r"FLEETSYNC_KUBE_CLIENTS=.*whole number of 1 or more"):
        load_settings()


def test_render_limits_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLEETSYNC_RENDER_TIMEOUT", raising=False)
    monkeypatch.delenv("FLEETSYNC_RENDER_MEMORY", raising=False)
    settings = load_settings()
    assert (settings.render_timeout, settings.render_memory_mib) == (60.0, 1024)
    monkeypatch.setenv("FLEETSYNC_RENDER_TIMEOUT", "2.5")
    monkeypatch.setenv("FLEETSYNC_RENDER_MEMORY", "512")
    settings = load_settings()
    assert (settings.render_timeout, settings.render_memory_mib) == (2.5, 512)


@pytest.mark.parametrize(
    ("name", "bad", "expected"),
    [
        ("RENDER_TIMEOUT", "0", "a number of seconds from 1 to 3600"),
        ("RENDER_TIMEOUT", "1" * 400, "a number of seconds from 1 to 3600"),
        ("RENDER_TIMEOUT", "soon", "a number of seconds from 1 to 3600"),
        ("RENDER_MEMORY", "128", "a whole number of MiB from 256 to 65536"),
        ("RENDER_MEMORY", "1.5", "a whole number of MiB from 256 to 65536"),
    ],
)
def test_a_bad_render_limit_names_the_variable_and_the_range(
    monkeypatch: pytest.MonkeyPatch, name: str, bad: str, expected: str
) -> None:
    monkeypatch.setenv(f"FLEETSYNC_{name}", bad)
    with pytest.raises(ValueError) as caught:
        load_settings()
    assert str(caught.value) == f"FLEETSYNC_{name}={bad[:40]!r}: expected {expected}"


def test_task_events_are_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLEETSYNC_TASK_EVENTS", raising=False)
    assert load_settings().task_events is False
    monkeypatch.setenv("FLEETSYNC_TASK_EVENTS", "true")
    assert load_settings().task_events is True
    monkeypatch.setenv("FLEETSYNC_TASK_EVENTS", "sometimes")
    with pytest.raises(ValueError) as caught:
        load_settings()
    assert str(caught.value) == (
        "FLEETSYNC_TASK_EVENTS='sometimes': expected 1 or 0 (true/false, yes/no)"
    )


def test_the_cluster_batch_and_threads_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLEETSYNC_CLUSTER_BATCH", raising=False)
    monkeypatch.delenv("FLEETSYNC_CLUSTER_THREADS", raising=False)
    assert (load_settings().cluster_batch, load_settings().cluster_threads) == (2, 4)
    monkeypatch.setenv("FLEETSYNC_CLUSTER_BATCH", "0")
    monkeypatch.setenv("FLEETSYNC_CLUSTER_THREADS", "1")
    assert (load_settings().cluster_batch, load_settings().cluster_threads) == (0, 1)
    monkeypatch.setenv("FLEETSYNC_CLUSTER_BATCH", "-1")
    with pytest.raises(ValueError, match=r"FLEETSYNC_CLUSTER_BATCH='-1': expected a whole number"):
        load_settings()


def test_the_connections_a_kube_client_keeps_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLEETSYNC_KUBE_CONNECTIONS", raising=False)
    assert load_settings().kube_connections == 4
    monkeypatch.setenv("FLEETSYNC_KUBE_CONNECTIONS", "6")
    assert load_settings().kube_connections == 6
    monkeypatch.setenv("FLEETSYNC_KUBE_CONNECTIONS", "0")
    with pytest.raises(
        ValueError,
        match=r"FLEETSYNC_KUBE_CONNECTIONS='0': expected a whole number of connections from 1",
    ):
        load_settings()
