"""Renders issue 20's customer-experience metrics (``experience_specs``) at scrape time.

Counters fed by their own key are rendered with every partition counter by
``tracker.metrics.exposition``; this module renders what needs more: the web
vitals histogram (per-bucket counts made cumulative) and the window gauges.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client.core import Metric

from tracker.core.aggregates import SEP, Aggregates
from tracker.core.contract import VITAL_NAMES
from tracker.core.labels import WINDOWS
from tracker.core.partition import PartitionProcessor
from tracker.core.vitals import LCP_CLASSES, bucket_labels
from tracker.core.windows import ratio, window_sum
from tracker.metrics.families import gauge_of, histogram

# Zero series exported before any data, so rate() and absent() work from the start.
EXPERIENCE_ZEROS: dict[str, tuple[tuple[str, ...], ...]] = {
    "tracker_sessions_closed_by_lcp_total": tuple((c,) for c in LCP_CLASSES),
    "tracker_sessions_converted_by_lcp_total": tuple((c,) for c in LCP_CLASSES),
}
_VITAL = f"tracker_web_vital{SEP}"
_MICROS = f"tracker_web_vital_micros{SEP}"
_LABELS = {name: bucket_labels(name) for name in VITAL_NAMES}


def experience_histograms(parts: Mapping[int, PartitionProcessor]) -> Iterator[Metric]:
    """``tracker_web_vital``: a series per name, touchpoint and partition that saw one."""
    family = histogram("tracker_web_vital")
    for partition, processor in sorted(parts.items()):
        counts: dict[tuple[str, str], dict[str, int]] = {}
        sums: dict[tuple[str, str], int] = {}
        for key, n in processor.aggregates.counters.items():
            if key.startswith(_VITAL):
                name, touchpoint, le = key[len(_VITAL) :].split(SEP)
                counts.setdefault((name, touchpoint), {})[le] = n
            elif key.startswith(_MICROS):
                name, touchpoint = key[len(_MICROS) :].split(SEP)
                sums[(name, touchpoint)] = n
        for (name, touchpoint), by_le in sorted(counts.items()):
            cumulative, buckets = 0, []
            for le in _LABELS[name]:
                cumulative += by_le.get(le, 0)
                buckets.append((le, float(cumulative)))
            total = sums.get((name, touchpoint), 0) / 1_000_000
            family.add_metric([name, touchpoint, str(partition)], buckets, sum_value=total)
    yield family


def experience_gauges(aggs: list[Aggregates], ref: int) -> Iterator[Metric]:
    """Sessions and conversion by LCP class per window: numerators, denominators, rates."""
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
