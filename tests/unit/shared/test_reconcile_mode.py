"""When a reconcile converges and when it only looks: one table."""

from __future__ import annotations

import pytest

from fleetsync.shared.model.declaration import SyncPolicy
from fleetsync.shared.model.trigger import Trigger
from fleetsync.shared.reconcile import Mode, choose_mode

AUTO = SyncPolicy()
NO_HEAL = SyncPolicy(self_heal=False)
MANUAL_ONLY = SyncPolicy(automated=False)


@pytest.mark.parametrize(
    ("policy", "trigger", "suspended", "mode"),
    [
        (AUTO, Trigger.CHANGE, False, Mode.APPLY),
        (AUTO, Trigger.TARGETED, False, Mode.APPLY),
        (AUTO, Trigger.DRIFT, False, Mode.APPLY),
        (AUTO, Trigger.MANUAL, False, Mode.APPLY),
        (NO_HEAL, Trigger.DRIFT, False, Mode.CHECK),
        (NO_HEAL, Trigger.CHANGE, False, Mode.APPLY),
        (MANUAL_ONLY, Trigger.CHANGE, False, Mode.CHECK),
        (MANUAL_ONLY, Trigger.DRIFT, False, Mode.CHECK),
        (MANUAL_ONLY, Trigger.MANUAL, False, Mode.APPLY),
        (AUTO, Trigger.CHANGE, True, Mode.CHECK),
        (AUTO, Trigger.DRIFT, True, Mode.CHECK),
        (AUTO, Trigger.MANUAL, True, Mode.APPLY),
    ],
)
def test_the_mode_follows_trigger_policy_and_suspension(
    policy: SyncPolicy, trigger: Trigger, suspended: bool, mode: Mode
) -> None:
    assert choose_mode(policy, trigger=trigger, suspended=suspended) is mode
