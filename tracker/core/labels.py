"""Bounded label sets: every metric label value comes from one of these."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tracker.core.contract import CHANNELS
from tracker.core.experiments import AllowList, Pair, arms

OTHER = "other"
WINDOWS: dict[str, int] = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "28d": 28 * 86400}
NPS_CATEGORIES = ("promoter", "passive", "detractor")


def nps_category(score: int) -> str:
    if score >= 9:
        return "promoter"
    if score >= 7:
        return "passive"
    return "detractor"


@dataclass(frozen=True, slots=True)
class LabelSets:
    """Allow-lists from the settings, as small index tables for compact state."""

    touchpoints: tuple[str, ...]
    actions: tuple[str, ...]
    currencies: tuple[str, ...]
    funnel: tuple[str, ...]
    experiments: AllowList = ()  # TRACKER_EXPERIMENTS, the control first
    arms: frozenset[Pair] = frozenset()  # its (experiment, variant) pairs

    @classmethod
    def build(
        cls,
        touchpoints: Iterable[str],
        actions: Iterable[str],
        currencies: Iterable[str],
        funnel: Iterable[str],
        experiments: AllowList = (),
    ) -> LabelSets:
        return cls(
            touchpoints=(*dict.fromkeys(touchpoints), OTHER),
            actions=(*dict.fromkeys(actions), OTHER),
            currencies=(*dict.fromkeys(currencies), OTHER),
            funnel=tuple(funnel),
            experiments=experiments,
            arms=arms(experiments),
        )

    def arm(self, experiment: str, variant: str) -> Pair | None:
        """An event's pair if allowed; an unlisted one is not counted (never a label)."""
        pair = (experiment, variant)
        return pair if pair in self.arms else None

    def touchpoint(self, raw: str) -> str:
        """``store:berlin`` -> ``store`` when allowed, else ``other``."""
        head = raw.split(":", 1)[0]
        return head if head in self.touchpoints else OTHER

    def touchpoint_index(self, raw: str) -> int:
        return self.touchpoints.index(self.touchpoint(raw))

    def currency(self, code: str) -> str:
        return code if code in self.currencies else OTHER

    def action(self, raw: str) -> str:
        return raw if raw in self.actions else OTHER


def channel_index(channel: str) -> int:
    return CHANNELS.index(channel)
