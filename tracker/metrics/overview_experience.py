"""The overview page's "Customer experience" section: load times, support, retention.

Read from the same samples as ``/metrics``, like the rest of the page. The
worker keeps its histograms and support counters since tracking began, not per
window, so percentiles, tickets and rescued conversions stand apart from the
window switch; conversion by LCP class and new, returning and lapsed customers
follow it, every window computed at once. Percentiles are read from the
histogram buckets as Prometheus' ``histogram_quantile`` reads them, so the page
and a query over this worker's series agree; both of Google's LCP thresholds
are bucket bounds, so the rating of an interpolated p75 is exact. The
section's live experiments are built in ``overview_experiments``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from tracker.core.contract import CHANNELS, SUPPORT_CHANNELS, VITAL_RATINGS
from tracker.core.labels import WINDOWS
from tracker.core.vitals import LCP_CLASSES, rating
from tracker.metrics.overview_experiments import (
    EXPERIMENT_DEFINITIONS,
    EXPERIMENT_PANELS,
    experiments,
)
from tracker.metrics.samples import Sample, total

LCP_QUANTILE = 0.75  # Google assesses a page by the 75th percentile of its loads
SUPPORT_QUANTILE = 0.9  # as the support alert and the dashboard's panels
# Each figure's definition is its metric's help text in the catalogue.
EXPERIENCE_DEFINITIONS = {
    "lcp_p75": "tracker_web_vital",
    "conversion_by_lcp": "tracker_conversion_rate_by_lcp",
    "first_response": "tracker_support_first_response_seconds",
    "resolution": "tracker_support_resolution_seconds",
    "tickets_open": "tracker_support_tickets_open",
    "reopen_rate": "tracker_support_tickets_reopened_total",
    "rescued": "tracker_sessions_rescued_total",
    "customers_new": "tracker_customers_new",
    "customers_returning": "tracker_customers_returning",
    "customers_lapsed": "tracker_customers_lapsed",
    "lapsed_window": "tracker_customers_lapsed_window",
    "repurchase_by_first_channel": "tracker_repurchase_rate_by_first_channel",
    **EXPERIMENT_DEFINITIONS,
}
# The panels of deploy/grafana/dashboards/touchpoints-overview.json showing them.
EXPERIENCE_PANELS = {
    "lcp_p75": 54,
    "conversion_by_lcp": 56,
    "first_response": 68,
    "tickets_open": 69,
    "reopen_rate": 71,
    "rescued": 72,
    "resolution": 74,
    "customers_new": 78,
    "customers_lapsed": 80,
    "repurchase_by_first_channel": 81,
    **EXPERIMENT_PANELS,
}


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> dict[str, Any] | None:
    """The q-quantile of cumulative ``(le, count)`` buckets, as Prometheus interpolates it.

    None without observations. In the ``+Inf`` bucket Prometheus answers the highest
    finite bound; ``beyond`` says so, for the page to write "over" that bound.
    """
    buckets = sorted(buckets)
    if not buckets or buckets[-1][1] <= 0 or not math.isinf(buckets[-1][0]):
        return None
    count = buckets[-1][1]
    rank = q * count
    for i, (bound, cumulative) in enumerate(buckets):
        if cumulative < rank:
            continue
        if math.isinf(bound):
            return {"value": buckets[i - 1][0] if i else None, "beyond": True, "count": count}
        start, below = (buckets[i - 1][0], buckets[i - 1][1]) if i else (0.0, 0.0)
        inside = cumulative - below
        value = bound if inside <= 0 else start + (bound - start) * (rank - below) / inside
        return {"value": value, "beyond": False, "count": count}
    return None  # unreachable: the +Inf bucket holds every observation


def _buckets(
    samples: Iterable[Sample], histogram: str, by: str, match: dict[str, str] | None = None
) -> dict[str, list[tuple[float, float]]]:
    """A histogram's cumulative buckets per value of ``by``, other labels summed away."""
    out: dict[str, dict[float, float]] = {}
    for metric, labels, value in samples:
        if metric != f"{histogram}_bucket":
            continue
        as_dict = dict(labels)
        if all(as_dict.get(k) == v for k, v in (match or {}).items()):
            per = out.setdefault(as_dict.get(by, ""), {})
            le = float(as_dict["le"])
            per[le] = per.get(le, 0.0) + value
    return {key: sorted(per.items()) for key, per in out.items()}


def _merged(groups: dict[str, list[tuple[float, float]]]) -> list[tuple[float, float]]:
    summed: dict[float, float] = {}
    for buckets in groups.values():
        for le, n in buckets:
            summed[le] = summed.get(le, 0.0) + n
    return sorted(summed.items())


def _lcp(q: dict[str, Any] | None) -> dict[str, Any] | None:
    if q is None or q["value"] is None:
        return None
    # Seconds on the page; the thresholds are in the library's milliseconds.
    return {**q, "rating": VITAL_RATINGS[rating("LCP", q["value"] * 1000)]}


def load_times(samples: list[Sample]) -> dict[str, Any]:
    """LCP p75 of all pages and per touchpoint (slowest first), since tracking began."""
    groups = _buckets(samples, "tracker_web_vital", "touchpoint", {"name": "LCP"})
    rows = []
    for touchpoint, buckets in groups.items():
        p75 = _lcp(histogram_quantile(LCP_QUANTILE, buckets))
        if p75 is not None:
            rows.append({"touchpoint": touchpoint, **p75})
    rows.sort(key=lambda r: (-r["value"], r["touchpoint"]))
    return {"all": _lcp(histogram_quantile(LCP_QUANTILE, _merged(groups))), "touchpoints": rows}


Buckets = list[tuple[float, float]]


def _support_row(
    samples: list[Sample], first: Buckets, resolution: Buckets, **match: str
) -> dict[str, Any]:
    def t(name: str) -> float:
        return total(samples, name, **match)

    resolved = t("tracker_support_tickets_resolved_total")
    with_support = t("tracker_sessions_with_support_total")
    rescued = t("tracker_sessions_rescued_total")
    return {
        "contacts": t("tracker_support_contacts_total"),
        "first_response_p90": histogram_quantile(SUPPORT_QUANTILE, first),
        "resolution_p90": histogram_quantile(SUPPORT_QUANTILE, resolution),
        "tickets_open": t("tracker_support_tickets_open"),
        "reopened": t("tracker_support_tickets_reopened_total"),
        "resolved": resolved,
        "reopen_rate": _share(t("tracker_support_tickets_reopened_total"), resolved),
        "sessions_with_support": with_support,
        "rescued": rescued,
        "rescued_share": _share(rescued, with_support),
    }


def support(samples: list[Sample]) -> dict[str, Any]:
    """Service levels per support channel and over all of them, since tracking began."""
    first = _buckets(samples, "tracker_support_first_response_seconds", "support_channel")
    resolution = _buckets(samples, "tracker_support_resolution_seconds", "support_channel")
    channels = [
        {
            "support_channel": c,
            **_support_row(samples, first.get(c, []), resolution.get(c, []), support_channel=c),
        }
        for c in SUPPORT_CHANNELS
    ]
    return {
        "channels": channels,
        "all": _support_row(samples, _merged(first), _merged(resolution)),
    }


def conversion_by_lcp(samples: list[Sample], window: str) -> list[dict[str, Any]]:
    """Closed sessions and their conversion rate by LCP class, in the window."""
    rows = []
    for lcp_class in LCP_CLASSES:
        labels = {"window": window, "lcp_class": lcp_class}
        closed = total(samples, "tracker_sessions_closed_by_lcp_window", **labels)
        converted = total(samples, "tracker_sessions_converted_by_lcp_window", **labels)
        rows.append(
            {
                "lcp_class": lcp_class,
                "sessions": closed,
                "converted": converted,
                "conversion_rate": _share(converted, closed),
            }
        )
    return rows


def customers(samples: list[Sample], window: str) -> dict[str, Any]:
    """New, returning and lapsed-in-the-window customers, in all and by channel."""

    def figures(channel: str) -> dict[str, float]:
        at = {"window": window, "channel": channel}
        return {
            "new": total(samples, "tracker_customers_new", **at),
            "returning": total(samples, "tracker_customers_returning", **at),
            "lapsed_in_window": total(samples, "tracker_customers_lapsed_window", **at),
        }

    everyone = figures("all")
    seen = everyone["new"] + everyone["returning"]
    return {
        **everyone,
        "returning_share": _share(everyone["returning"], seen),
        "channels": [{"channel": c, **figures(c)} for c in CHANNELS],
    }


def retention_now(samples: list[Sample]) -> dict[str, Any]:
    """Lapsed customers now and the repurchase rate over the lookback, by first-order channel."""
    lookbacks = sorted(
        {
            dict(lab).get("window", "")
            for n, lab, _ in samples
            if n == "tracker_repurchase_customers_by_first_channel_window"
        }
    )
    lookback = lookbacks[0] if lookbacks else None

    def row(channel: str) -> dict[str, Any]:
        at = {"channel": channel, "window": lookback or ""}
        buyers = total(samples, "tracker_repurchase_customers_by_first_channel_window", **at)
        repeat = total(samples, "tracker_repurchase_repeat_customers_by_first_channel_window", **at)
        return {
            "lapsed": total(samples, "tracker_customers_lapsed", channel=channel),
            "buyers": buyers,
            "repeat_buyers": repeat,
            "repurchase_rate": _share(repeat, buyers),
        }

    return {
        "lookback": lookback,
        "all": row("all"),
        "channels": [{"channel": c, **row(c)} for c in CHANNELS],
    }


def experience(samples: list[Sample]) -> dict[str, Any]:
    """The section's figures that do not follow the window switch."""
    return {
        "load_times": load_times(samples),
        "support": support(samples),
        "retention": retention_now(samples),
        "experiments": experiments(samples),
    }


def experience_by_window(samples: list[Sample]) -> dict[str, dict[str, Any]]:
    """The section's windowed figures, every window at once."""
    return {
        w: {"conversion_by_lcp": conversion_by_lcp(samples, w), "customers": customers(samples, w)}
        for w in WINDOWS
    }
