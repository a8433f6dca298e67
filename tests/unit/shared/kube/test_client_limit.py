"""How many Kubernetes clients a process keeps: one per cluster of the fleet it read, at least
`CLIENT_CACHE_SIZE`, unless the operator's FLEETSYNC_KUBE_CLIENTS bounds them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fleetsync.shared.kube.client import (
    CLIENT_CACHE_SIZE,
    fit_clients,
    keep_clients,
    kept_clients,
)


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    keep_clients(None)
    fit_clients(0)


def test_the_clients_kept_follow_the_fleet_above_the_floor() -> None:
    keep_clients(None)
    fit_clients(10)
    assert kept_clients() == CLIENT_CACHE_SIZE
    fit_clients(5000)
    assert kept_clients() == 5000
    fit_clients(1000)
    assert kept_clients() == 1000


def test_an_operator_s_bound_holds_whatever_the_fleet_declares() -> None:
    keep_clients(300)
    fit_clients(5000)
    assert kept_clients() == 300
    keep_clients(None)
    assert kept_clients() == 5000
