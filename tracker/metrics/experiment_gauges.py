"""Renders the live-experiment gauges (docs/metrics.md#experiments) at scrape time.

Each figure is read off the experiment counters of the partitions this worker
owns, summed: exact when one worker owns every partition (the demo, a single
worker); with several, the counters summed across workers are the exact counts.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from tracker.core.aggregates import Aggregates, counter_key
from tracker.core.experiment_stats import p_value, sample_size
from tracker.core.experiments import CONVERSIONS, SESSIONS, AllowList
from tracker.core.windows import ratio
from tracker.metrics.families import gauge_of


def experiment_gauges(aggs: list[Aggregates], allowed: AllowList, mde: float) -> Iterator[Metric]:
    rates: list[tuple[list[str], float]] = []
    p_values: list[tuple[list[str], float]] = []
    sizes: list[tuple[list[str], float]] = []
    for name, variants in allowed:
        counts = {
            v: (
                sum(a.counter(counter_key(CONVERSIONS, name, v)) for a in aggs),
                sum(a.counter(counter_key(SESSIONS, name, v)) for a in aggs),
            )
            for v in variants
        }
        control = counts[variants[0]]
        for variant, (converted, closed) in counts.items():
            rates.append(([name, variant], ratio(converted, closed)))
            if variant != variants[0]:
                p_values.append(([name, variant], p_value(*control, converted, closed)))
        sizes.append(([name], sample_size(ratio(*control), mde)))
    yield gauge_of("tracker_experiment_conversion_rate", rates)
    yield gauge_of("tracker_experiment_p_value", p_values)
    yield gauge_of("tracker_experiment_sample_size", sizes)
    # From the allow-list, not the counts: the recording rules find each control by it.
    yield gauge_of("tracker_experiment_control_info", [([n, v[0]], 1.0) for n, v in allowed])
