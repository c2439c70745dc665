"""The live overview page's numbers, derived from the same samples as ``/metrics``.

Reading the exposition (not the state) guarantees the page and Prometheus
never disagree. Every window is computed at once, so the page's window
switch redraws without asking the worker again. Counters are totals since
tracking began and stand apart from the windows. A short in-memory history
feeds the page's sparklines.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tracker.core.contract import CHANNELS
from tracker.core.labels import WINDOWS
from tracker.metrics.catalogue import spec
from tracker.metrics.overview_experience import (
    EXPERIENCE_DEFINITIONS,
    EXPERIENCE_PANELS,
    experience,
    experience_by_window,
)
from tracker.metrics.samples import Sample, total

DEFAULT_WINDOW = "24h"
HEADLINES = ("reach", "sessions", "bounce_rate", "conversion_rate", "orders")
# Each figure's definition is its metric's help text in the catalogue.
DEFINITIONS = {
    "reach": "tracker_reach",
    "sessions": "tracker_sessions_closed_window",
    "bounce_rate": "tracker_bounce_rate",
    "conversion_rate": "tracker_conversion_rate",
    "orders": "tracker_orders_window",
    "revenue": "tracker_revenue_window",
    "funnel": "tracker_funnel_sessions_window",
    "nps": "tracker_nps",
    "csat": "tracker_csat",
    "ces": "tracker_ces",
    "sessions_active": "tracker_sessions_active",
    "events": "tracker_events_total",
    "sessions_started": "tracker_sessions_started_total",
    "orders_total": "tracker_orders_total",
    "revenue_total": "tracker_revenue_total",
    "journeys": "tracker_journey_transitions_total",
    "exits": "tracker_session_exits_total",
    "rejected": "tracker_events_rejected_total",
    "dropped": "tracker_events_dropped_total",
    "late": "tracker_events_late_total",
    "erasures": "tracker_erasures_total",
    **EXPERIENCE_DEFINITIONS,
}
# The panel of deploy/grafana/dashboards/touchpoints-overview.json showing each figure.
DASHBOARD_UID = "touchpoints-overview"
GRAFANA_PANELS = {
    "reach": 2,
    "channels": 3,
    "sessions_active": 8,
    "sessions": 9,
    "conversion_rate": 11,
    "bounce_rate": 12,
    "orders": 23,
    "revenue": 22,
    "revenue_total": 24,
    "funnel": 27,
    "journeys": 28,
    "exits": 29,
    "nps": 31,
    "csat": 32,
    "ces": 33,
    "events": 38,
    "rejected": 39,
    **EXPERIENCE_PANELS,
}
# Reach counts a person in the window of their latest event only: no earlier reach is kept.
NO_REACH_BEFORE = "no comparison: a person counts once, in the window of their latest visit"


def _labelled(samples: Iterable[Sample], name: str, *keys: str) -> dict[tuple[str, ...], float]:
    """Sum of a metric by the given labels, other labels (like partition) summed away."""
    out: dict[tuple[str, ...], float] = {}
    for metric, labels, value in samples:
        if metric == name:
            as_dict = dict(labels)
            key = tuple(as_dict.get(k, "") for k in keys)
            out[key] = out.get(key, 0.0) + value
    return out


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _top(values: dict[tuple[str, ...], float], n: int) -> list[dict[str, Any]]:
    ranked = sorted(((v, k) for k, v in values.items() if v > 0), reverse=True)[:n]
    return [{"labels": list(k), "value": v} for v, k in ranked]


def definitions() -> dict[str, str]:
    out = {}
    for key, name in DEFINITIONS.items():
        s = spec(name)
        out[key] = f"{s.help}. {s.note}" if s.note else f"{s.help}."
    return out


def grafana_links(base_url: str) -> dict[str, str]:
    """Each figure's dashboard panel; the page adds the window (``&var-window=``)."""
    if not base_url:
        return {}
    board = f"{base_url.rstrip('/')}/d/{DASHBOARD_UID}/{DASHBOARD_UID}"
    return {key: f"{board}?viewPanel={panel}" for key, panel in GRAFANA_PANELS.items()}


def spoken(window: str) -> str:
    """``24h`` -> ``24 h``, as the page writes windows."""
    return f"{window[:-1]} {window[-1]}"


def change(
    value: float | None, previous: float | None, *, rate: bool, window: str, what: str
) -> dict[str, Any]:
    """Change against the window before: relative for counts, in points for rates."""
    if value is None:
        return {"change": None, "note": f"no comparison: no {what} in this window"}
    if previous is None or (not rate and previous == 0):
        return {"change": None, "note": f"no comparison: no {what} in the {spoken(window)} before"}
    if rate:
        return {"change": value - previous, "kind": "points", "note": None}
    return {"change": value / previous - 1, "kind": "relative", "note": None}


class _Reader:
    """Window figures from the samples, by window and channel."""

    def __init__(self, samples: list[Sample], currencies: list[str]) -> None:
        # By name: a page asks for hundreds of figures, each of one metric's samples.
        self.by_name: dict[str, list[Sample]] = {}
        for sample in samples:
            self.by_name.setdefault(sample[0], []).append(sample)
        self.currencies = currencies

    def t(self, name: str, **labels: str) -> float:
        return total(self.by_name.get(name, ()), name, **labels)

    def has(self, name: str, **labels: str) -> bool:
        wanted = set(labels.items())
        return any(wanted <= set(lab) for _, lab, _ in self.by_name.get(name, ()))

    def figures(self, window: str, channel: str) -> dict[str, Any]:
        t = self.t
        closed = t("tracker_sessions_closed_window", window=window, channel=channel)
        bounced = t("tracker_sessions_bounced_window", window=window, channel=channel)
        converted = t("tracker_sessions_converted_window", window=window, channel=channel)
        return {
            "reach": t("tracker_reach", window=window, channel=channel),
            "sessions": closed,
            "bounce_rate": _share(bounced, closed),
            "conversion_rate": _share(converted, closed),
            "orders": t("tracker_orders_window", window=window, channel=channel),
            "revenue": {
                c: t("tracker_revenue_window", window=window, currency=c, channel=channel)
                for c in self.currencies
            },
        }

    def previous(self, window: str) -> dict[str, Any] | None:
        t = self.t
        if not self.has("tracker_sessions_closed_previous_window", window=window):
            return None
        closed = t("tracker_sessions_closed_previous_window", window=window)
        return {
            "sessions": closed,
            "bounce_rate": _share(
                t("tracker_sessions_bounced_previous_window", window=window), closed
            ),
            "conversion_rate": _share(
                t("tracker_sessions_converted_previous_window", window=window), closed
            ),
            "orders": t("tracker_orders_previous_window", window=window),
            "revenue": {
                c: t("tracker_revenue_previous_window", window=window, currency=c)
                for c in self.currencies
            },
        }


def _headline(reader: _Reader, window: str, now: dict[str, Any]) -> dict[str, Any]:
    before = reader.previous(window)
    out: dict[str, Any] = {
        "reach": {"value": now["reach"], "change": None, "note": NO_REACH_BEFORE}
    }
    if before is None:
        kept = f"no comparison: the worker keeps no data from the {spoken(window)} before"
        for key in ("sessions", "bounce_rate", "conversion_rate", "orders"):
            out[key] = {"value": now[key], "change": None, "note": kept}
        out["revenue"] = {
            c: {"value": v, "change": None, "note": kept} for c, v in now["revenue"].items()
        }
        return out
    what = {
        "sessions": "closed sessions",
        "bounce_rate": "closed sessions",
        "conversion_rate": "closed sessions",
        "orders": "orders",
    }
    for key, subject in what.items():
        rate = key.endswith("_rate")
        compared = change(now[key], before[key], rate=rate, window=window, what=subject)
        out[key] = {"value": now[key], "previous": before[key], **compared}
    out["revenue"] = {
        c: {
            "value": v,
            "previous": before["revenue"][c],
            **change(v, before["revenue"][c], rate=False, window=window, what=f"{c} revenue"),
        }
        for c, v in now["revenue"].items()
    }
    return out


def _funnel(reader: _Reader, window: str, steps: list[str]) -> list[dict[str, Any]]:
    counts = [reader.t("tracker_funnel_sessions_window", window=window, step=s) for s in steps]
    rows: list[dict[str, Any]] = []
    for i, (step, n) in enumerate(zip(steps, counts, strict=True)):
        rows.append(
            {
                "step": step,
                "sessions": n,
                "of_previous": _share(n, counts[i - 1]) if i else None,
                "of_first": _share(n, counts[0]) if i else None,
                "largest_drop": False,
            }
        )
    # The largest drop: the step keeping the smallest share of the step before it.
    kept = [(row["of_previous"], i) for i, row in enumerate(rows) if row["of_previous"] is not None]
    if kept and min(kept)[0] < 1:
        rows[min(kept)[1]]["largest_drop"] = True
    return rows


def _window(reader: _Reader, window: str, steps: list[str]) -> dict[str, Any]:
    now = reader.figures(window, "all")
    channels = [{"channel": c, **reader.figures(window, c)} for c in CHANNELS]
    t = reader.t
    return {
        "headline": _headline(reader, window, now),
        "totals": now,
        "channels": channels,
        "funnel": _funnel(reader, window, steps),
        "feedback": {
            "nps": _finite(t("tracker_nps", window=window)),
            "csat": _finite(t("tracker_csat", window=window)),
            "ces": _finite(t("tracker_ces", window=window)),
            "responses": t("tracker_nps_responses_window", window=window),
        },
    }


def _funnel_steps(samples: list[Sample]) -> list[str]:
    """The configured order, as the worker exports it (``tracker_funnel_step_info``)."""
    positions = {
        dict(lab)["step"]: int(dict(lab)["position"])
        for n, lab, _ in samples
        if n == "tracker_funnel_step_info"
    }
    return sorted(positions, key=positions.__getitem__)


def _since_start(samples: list[Sample], currencies: list[str]) -> dict[str, Any]:
    def t(name: str, **labels: str) -> float:
        return total(samples, name, **labels)

    return {
        "events": t("tracker_events_total"),
        "sessions_started": t("tracker_sessions_started_total"),
        "orders_total": t("tracker_orders_total"),
        "revenue_total": {c: t("tracker_revenue_total", currency=c) for c in currencies},
        "journeys": _top(
            _labelled(
                samples, "tracker_journey_transitions_total", "from_touchpoint", "to_touchpoint"
            ),
            8,
        ),
        "exits": _top(_labelled(samples, "tracker_session_exits_total", "touchpoint"), 8),
        "rejected": t("tracker_events_rejected_total"),
        "dropped_no_consent": t("tracker_events_dropped_total", reason="no_consent"),
        "duplicates": t("tracker_events_dropped_total", reason="duplicate"),
        "late": t("tracker_events_late_total"),
        "erasures": t("tracker_erasures_total"),
    }


def overview(samples: list[Sample], grafana_url: str = "") -> dict[str, Any]:
    """Every window's cards, channel table and funnel, and the totals since tracking began."""
    revenue = _labelled(samples, "tracker_revenue_window", "currency")
    revenue_total = _labelled(samples, "tracker_revenue_total", "currency")
    # Currencies with any revenue: a column of zeros for every allowed code says nothing.
    currencies = sorted({k[0] for k, v in (*revenue.items(), *revenue_total.items()) if v and k[0]})
    reader = _Reader(samples, currencies)
    steps = _funnel_steps(samples)
    events = total(samples, "tracker_events_total")
    by_window = {w: _window(reader, w, steps) for w in WINDOWS}
    for w, figures in experience_by_window(samples).items():
        by_window[w]["experience"] = figures
    return {
        "reference_time": total(samples, "tracker_reference_time_seconds"),
        "has_data": events > 0,
        "windows": list(WINDOWS),
        "default_window": DEFAULT_WINDOW,
        "currencies": currencies,
        "sessions_active": total(samples, "tracker_sessions_active"),
        "by_window": by_window,
        "since_start": _since_start(samples, currencies),
        "experience": experience(samples),
        "definitions": definitions(),
        "grafana": grafana_links(grafana_url),
    }


@dataclass
class History:
    """Headline values of every window over the last hour, one point per ``interval_s``."""

    interval_s: float = 15.0
    points: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=240))

    def record(self, now_s: float, page: dict[str, Any]) -> None:
        point: dict[str, Any] = {"t": now_s}
        for window, figures in page["by_window"].items():
            point[window] = {k: figures["headline"][k]["value"] for k in HEADLINES}
        self.points.append(point)

    def as_list(self) -> list[dict[str, Any]]:
        return list(self.points)
