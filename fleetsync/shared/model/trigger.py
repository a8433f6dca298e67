"""Why a reconcile runs: it decides whether the reconcile converges or only looks.

Tasks carry the trigger and statuses store it as a stable token (`change`, `targeted`, `drift`,
`manual`); people read its label ("new desired state", ...). Statuses and queued tasks written
before the tokens existed hold the label itself: both forms read back.
"""

from __future__ import annotations

from enum import StrEnum


class Trigger(StrEnum):
    CHANGE = "change"
    TARGETED = "targeted"
    DRIFT = "drift"
    MANUAL = "manual"

    @property
    def label(self) -> str:
        """What the trigger means, for people: `new desired state`, `drift check`, ..."""
        return _LABELS[self]

    @property
    def strength(self) -> int:
        """How much a reconcile for the trigger may do: a drift check may only look (without
        selfHeal), a change applies, a manual sync applies whatever the policy. Coalescing
        keeps the strongest reason of the triggers a queued reconcile absorbed."""
        return _STRENGTH[self]

    @classmethod
    def of(cls, text: str) -> Trigger:
        """The trigger a token or a label names; anything else counts as a change (a reconcile
        that applies the latest desired state is the safe reading of an unknown reason)."""
        if text in cls._value2member_map_:
            return cls(text)
        return _BY_LABEL.get(text, cls.CHANGE)


_LABELS = {
    Trigger.CHANGE: "new desired state",
    Trigger.TARGETED: "newly targeted",
    Trigger.DRIFT: "drift check",
    Trigger.MANUAL: "manual sync",
}
_BY_LABEL = {label: trigger for trigger, label in _LABELS.items()}
_STRENGTH = {Trigger.DRIFT: 0, Trigger.CHANGE: 1, Trigger.TARGETED: 1, Trigger.MANUAL: 2}
