"""Prometheus metric families built from their catalogue declarations, and nothing else.

A family whose name or kind the catalogue does not declare is a bug: it raises.
"""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from tracker.metrics.catalogue import MetricSpec, UndeclaredMetricError, spec


def counter(name: str) -> CounterMetricFamily:
    s = _declared(name, "counter")
    return CounterMetricFamily(s.name, s.help, labels=list(s.label_names))


def gauge(name: str) -> GaugeMetricFamily:
    s = _declared(name, "gauge")
    return GaugeMetricFamily(s.name, s.help, labels=list(s.label_names))


def histogram(name: str) -> HistogramMetricFamily:
    s = _declared(name, "histogram")
    return HistogramMetricFamily(s.name, s.help, labels=list(s.label_names))


def gauge_of(name: str, samples: list[tuple[list[str], float]]) -> GaugeMetricFamily:
    """A gauge family holding the given (label values, value) samples."""
    family = gauge(name)
    for label_values, value in samples:
        family.add_metric(label_values, value)
    return family


def _declared(name: str, kind: str) -> MetricSpec:
    s = spec(name)
    if s.kind != kind:
        raise UndeclaredMetricError(f"{name} is declared a {s.kind}, not a {kind}")
    return s
