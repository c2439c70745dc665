"""Reading Prometheus text exposition back into samples: for the overview page and tests.

The overview page reads the same exposition that ``/metrics`` serves, so the two can
never disagree; tests and benchmarks compare workers' exports the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.parser import text_string_to_metric_families

Sample = tuple[str, tuple[tuple[str, str], ...], float]


def parse_exposition(text: str) -> list[Sample]:
    out: list[Sample] = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.append((s.name, tuple(sorted(s.labels.items())), s.value))
    return out


def total(samples: Iterable[Sample], name: str, **labels: str) -> float:
    """Sum of a metric's samples whose labels include ``labels`` (summing the rest away)."""
    wanted = set(labels.items())
    return sum(v for n, lab, v in samples if n == name and wanted <= set(lab))
