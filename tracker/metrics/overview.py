"""The live overview page's numbers, derived from the same samples as ``/metrics``.

Reading the exposition (not the state) guarantees the page and Prometheus
never disagree. A short in-memory history feeds the page's sparklines.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tracker.metrics.samples import Sample, total

HEADLINES = (
    "events",
    "reach_1h",
    "reach_24h",
    "sessions_active",
    "bounce_rate",
    "conversion_rate",
    "interaction_rate",
    "orders",
    "nps",
)
RATE_WINDOW = "24h"


def _labelled(samples: Iterable[Sample], name: str, *keys: str) -> dict[tuple[str, ...], float]:
    """Sum of a metric by the given labels, other labels (like partition) summed away."""
    out: dict[tuple[str, ...], float] = {}
    for metric, labels, value in samples:
        if metric == name:
            as_dict = dict(labels)
            key = tuple(as_dict.get(k, "") for k in keys)
            out[key] = out.get(key, 0.0) + value
    return out


def _finite(value: float) -> float | None:
    return None if value != value else value


def _top(values: dict[tuple[str, ...], float], n: int) -> list[dict[str, Any]]:
    ranked = sorted(((v, k) for k, v in values.items() if v > 0), reverse=True)[:n]
    return [{"labels": list(k), "value": v} for v, k in ranked]


def overview(samples: list[Sample]) -> dict[str, Any]:
    def t(name: str, **labels: str) -> float:
        return total(samples, name, **labels)

    w = RATE_WINDOW
    headline = {
        "events": t("tracker_events_total"),
        "reach_1h": t("tracker_reach", window="1h", channel="all"),
        "reach_24h": t("tracker_reach", window="24h", channel="all"),
        "sessions_active": t("tracker_sessions_active"),
        "bounce_rate": _finite(t("tracker_bounce_rate", window=w, channel="all")),
        "conversion_rate": _finite(t("tracker_conversion_rate", window=w, channel="all")),
        "interaction_rate": _finite(t("tracker_interaction_rate", window=w, channel="all")),
        "orders": t("tracker_orders_total"),
        "nps": _finite(t("tracker_nps", window=w)),
        "csat": _finite(t("tracker_csat", window=w)),
        "ces": _finite(t("tracker_ces", window=w)),
    }
    funnel_counts = _labelled(samples, "tracker_funnel_sessions_total", "step")
    funnel_order = [
        dict(lab)["step"] for n, lab, _ in samples if n == "tracker_funnel_dropoff_ratio"
    ]
    steps = list(dict.fromkeys([*(k[0] for k in funnel_counts), *funnel_order]))
    return {
        "window": w,
        "reference_time": t("tracker_reference_time_seconds"),
        "headline": headline,
        "sessions": {
            "started": t("tracker_sessions_started_total"),
            "closed": t("tracker_sessions_closed_total"),
        },
        "reach_by_channel": {
            channel: v
            for (window, channel), v in _labelled(
                samples, "tracker_reach", "window", "channel"
            ).items()
            if window == w and channel != "all"
        },
        "revenue": {
            k[0]: v for k, v in _labelled(samples, "tracker_revenue_total", "currency").items()
        },
        "funnel": [{"step": s, "sessions": funnel_counts.get((s,), 0.0)} for s in steps],
        "journeys": _top(
            _labelled(
                samples, "tracker_journey_transitions_total", "from_touchpoint", "to_touchpoint"
            ),
            8,
        ),
        "exits": _top(_labelled(samples, "tracker_session_exits_total", "touchpoint"), 8),
        "quality": {
            "rejected": t("tracker_events_rejected_total"),
            "dropped_no_consent": t("tracker_events_dropped_total", reason="no_consent"),
            "duplicates": t("tracker_events_dropped_total", reason="duplicate"),
            "late": t("tracker_events_late_total"),
            "erasures": t("tracker_erasures_total"),
        },
    }


@dataclass
class History:
    """Headline values over the last hour, one point per ``interval_s``."""

    interval_s: float = 15.0
    points: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=240))

    def record(self, now_s: float, page: dict[str, Any]) -> None:
        self.points.append({"t": now_s, **{k: page["headline"].get(k) for k in HEADLINES}})

    def as_list(self) -> list[dict[str, Any]]:
        return list(self.points)
