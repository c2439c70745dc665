"""Renders issue 20's customer-experience metrics (``experience_specs``) at scrape time.

Counters fed by their own key are rendered with every partition counter by
``tracker.metrics.exposition``; this module renders what needs more: the
histograms kept as per-bucket counters (web vitals, support response and
resolution times), open support tickets, and the window gauges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.core import Metric

from tracker.core.aggregates import SEP, Aggregates
from tracker.core.contract import CHANNELS, SUPPORT_CHANNELS, VITAL_NAMES
from tracker.core.labels import WINDOWS
from tracker.core.support import FIRST_RESPONSE_BUCKETS, OPEN_KEY, RESOLUTION_BUCKETS
from tracker.core.vitals import LCP_CLASSES, bucket_labels
from tracker.core.windows import ratio, window_sum
from tracker.metrics.families import gauge_of, histogram
from tracker.metrics.retention_gauges import retention_gauges

_SUPPORT = tuple((c,) for c in SUPPORT_CHANNELS)
# Zero series exported before any data, so rate() and absent() work from the start.
EXPERIENCE_ZEROS: dict[str, tuple[tuple[str, ...], ...]] = {
    "tracker_sessions_closed_by_lcp_total": tuple((c,) for c in LCP_CLASSES),
    "tracker_sessions_converted_by_lcp_total": tuple((c,) for c in LCP_CLASSES),
    "tracker_customer_lapses_total": tuple((c,) for c in CHANNELS),
    "tracker_customer_win_backs_total": tuple((c,) for c in CHANNELS),
    **dict.fromkeys(
        (
            "tracker_support_contacts_total",
            "tracker_support_tickets_opened_total",
            "tracker_support_tickets_reopened_total",
            "tracker_support_tickets_resolved_total",
            "tracker_support_tickets_expired_total",
            "tracker_sessions_with_support_total",
            "tracker_sessions_rescued_total",
        ),
        _SUPPORT,
    ),
    # By score too: a panel of satisfaction after support shows 0, not "no data", at first.
    "tracker_support_csat_responses_total": tuple(
        (str(s), c) for s in range(1, 6) for c in SUPPORT_CHANNELS
    ),
    "tracker_support_ces_responses_total": tuple(
        (str(s), c) for s in range(1, 8) for c in SUPPORT_CHANNELS
    ),
}


@dataclass(frozen=True, slots=True)
class _Histogram:
    """A histogram kept as counters: ``name|labels…|le`` per bucket, ``sum_key|labels…``."""

    name: str
    sum_key: str
    sum_unit: float  # of the stored sum, in the exported unit
    bounds: Callable[[tuple[str, ...]], tuple[str, ...]]  # ``le`` labels, by label values
    zeros: tuple[tuple[str, ...], ...] = ()  # label values exported before any observation


def _seconds(bounds: tuple[int, ...]) -> tuple[str, ...]:
    return (*(str(float(b)) for b in bounds), "+Inf")


_VITAL_LE = {name: bucket_labels(name) for name in VITAL_NAMES}
_FIRST, _RESOLUTION = _seconds(FIRST_RESPONSE_BUCKETS), _seconds(RESOLUTION_BUCKETS)
HISTOGRAMS = (
    _Histogram("tracker_web_vital", "tracker_web_vital_micros", 1e-6, lambda v: _VITAL_LE[v[0]]),
    _Histogram(
        "tracker_support_first_response_seconds",
        "tracker_support_first_response_seconds_ms",
        1e-3,
        lambda _v: _FIRST,
        _SUPPORT,
    ),
    _Histogram(
        "tracker_support_resolution_seconds",
        "tracker_support_resolution_seconds_ms",
        1e-3,
        lambda _v: _RESOLUTION,
        _SUPPORT,
    ),
)


def experience_histograms(
    by_partition: Mapping[int, Mapping[str, Mapping[tuple[str, ...], int]]],
) -> Iterator[Metric]:
    """Each histogram: a series per label values and partition that saw an observation.

    ``by_partition``: each partition's counters by metric name, then label values, as the
    exporter groups them once per scrape (a scan of every counter per histogram cost more
    than all the windowed gauges together).
    """
    for spec in HISTOGRAMS:
        family = histogram(spec.name)
        for partition, values in sorted(by_partition.items()):
            counts: dict[tuple[str, ...], dict[str, int]] = {v: {} for v in spec.zeros}
            for labels, n in values.get(spec.name, {}).items():
                counts.setdefault(labels[:-1], {})[labels[-1]] = n
            sums = values.get(spec.sum_key, {})
            for label_values, by_le in sorted(counts.items()):
                cumulative, buckets = 0, []
                for le in spec.bounds(label_values):
                    cumulative += by_le.get(le, 0)
                    buckets.append((le, float(cumulative)))
                observed = sums.get(label_values, 0) * spec.sum_unit
                family.add_metric([*label_values, str(partition)], buckets, sum_value=observed)
        yield family


def experience_gauges(aggs: list[Aggregates], ref: int, lookback_s: float) -> Iterator[Metric]:
    """Open tickets; conversion by LCP class per window (with both terms); retention."""
    yield from retention_gauges(aggs, ref, lookback_s)
    yield gauge_of(
        "tracker_support_tickets_open",
        [([c], sum(a.counter(f"{OPEN_KEY}{SEP}{c}") for a in aggs)) for c in SUPPORT_CHANNELS],
    )
    closed = {
        (w, c): window_sum(aggs, f"sess:closed:lcp:{c}", ref, s)
        for w, s in WINDOWS.items()
        for c in LCP_CLASSES
    }
    converted = {
        (w, c): window_sum(aggs, f"sess:converted:lcp:{c}", ref, s)
        for w, s in WINDOWS.items()
        for c in LCP_CLASSES
    }
    keys = list(closed)
    yield gauge_of("tracker_sessions_closed_by_lcp_window", [([*k], closed[k]) for k in keys])
    yield gauge_of("tracker_sessions_converted_by_lcp_window", [([*k], converted[k]) for k in keys])
    yield gauge_of(
        "tracker_conversion_rate_by_lcp", [([*k], ratio(converted[k], closed[k])) for k in keys]
    )
