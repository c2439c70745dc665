"""``/metrics`` text, byte for byte what prometheus-client writes, in less of a scrape's time.

The worker renders ``/metrics`` on its event loop, so a scrape's time is time no message
is applied. ``prometheus_client.generate_latest`` (0.26) checks and escapes every label
name and value of every sample anew: a worker exports ~6,600 samples with ~20,000 label
pairs, most of them repeats (``partition="3"``, ``channel="web"``), and that formatting
was half of a scrape (BENCHMARKS.md). ``render`` is the same loop with the library's own
escaping functions, each name and label pair escaped once per scrape. Only the Prometheus
text format (what the worker serves) is written; the tests compare it with
``generate_latest`` on the exporter's output and on generated families.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import cast

from prometheus_client.core import Metric
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

_go_float = cast(Callable[[float], str], floatToGoString)  # untyped in the library

_ESCAPING = openmetrics.UNDERSCORES  # generate_latest's default: legacy names, '_' for others
_OPENMETRICS_ONLY = ("_created", "_gsum", "_gcount")  # moved to gauges of their own, at the end
_TYPE_OF = {
    "gaugehistogram": "histogram",
    "unknown": "untyped",
    "info": "gauge",
    "stateset": "gauge",
}


class _Escaped:
    """Escaped names and ``name="value"`` pairs of one scrape."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.pairs: dict[tuple[str, str], str] = {}

    def name(self, name: str) -> str:
        escaped = self.names.get(name)
        if escaped is None:
            escaped = self.names[name] = openmetrics.escape_metric_name(name, _ESCAPING)
        return escaped

    def labels(self, labels: dict[str, str]) -> str:
        if not labels:
            return ""
        pairs = self.pairs
        parts = []
        for item in sorted(labels.items()):
            pair = pairs.get(item)
            if pair is None:
                name, value = item
                label = openmetrics.escape_label_name(name, _ESCAPING)
                # Label values are UTF-8 with three escapes, as the library writes them.
                text = value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
                pair = pairs[item] = f'{label}="{text}"'
            parts.append(pair)
        return "{" + ",".join(parts) + "}"

    def line(self, sample: Sample) -> str:
        timestamp = ""
        if sample.timestamp is not None:
            timestamp = f" {int(float(sample.timestamp) * 1000):d}"
        labels = self.labels(sample.labels)
        return f"{self.name(sample.name)}{labels} {_go_float(sample.value)}{timestamp}\n"


def render(registry: Collector) -> bytes:
    """The Prometheus text format (0.0.4) of everything ``registry`` collects."""
    escaped = _Escaped()
    output: list[str] = []
    for metric in registry.collect():
        name, kind = metric.name, metric.type
        if kind == "counter":
            name += "_total"
        elif kind == "info":
            name += "_info"
        kind = _TYPE_OF.get(kind, kind)
        help_text = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
        trailing: dict[str, list[str]] = {}
        try:
            output.append(f"# HELP {escaped.name(name)} {help_text}\n")
            output.append(f"# TYPE {escaped.name(name)} {kind}\n")
            for sample in metric.samples:
                suffix = _openmetrics_suffix(metric.name, sample.name)
                if suffix is None:
                    output.append(escaped.line(sample))
                else:
                    trailing.setdefault(suffix, []).append(escaped.line(sample))
        except Exception as exc:  # as generate_latest: say which family failed
            exc.args = (exc.args or ("",)) + (metric,)
            raise
        output.extend(_trailing_gauges(escaped, metric.name, help_text, trailing))
    return "".join(output).encode("utf-8")


def _openmetrics_suffix(family: str, sample: str) -> str | None:
    if len(sample) <= len(family) or not sample.startswith(family):
        return None
    rest = sample[len(family) :]
    return rest if rest in _OPENMETRICS_ONLY else None


def _trailing_gauges(
    escaped: _Escaped, family: str, help_text: str, trailing: dict[str, list[str]]
) -> Iterable[str]:
    for suffix, lines in sorted(trailing.items()):
        name = escaped.name(family + suffix)
        yield f"# HELP {name} {help_text}\n"
        yield f"# TYPE {name} gauge\n"
        yield from lines


class Only(Collector):
    """The samples of ``collectors`` named ``names``: what ``/metrics?name[]=...`` serves.

    The samples prometheus-client's ``restricted_registry`` keeps (its HTTP handler's
    ``name[]``), but a collector with ``collect_named`` (the state exporter) is asked to
    build only what may hold them.
    """

    def __init__(self, collectors: Sequence[Collector], names: Iterable[str]) -> None:
        self.collectors = tuple(collectors)
        self.names = frozenset(names)

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            named = getattr(collector, "collect_named", None)
            families = named(self.names) if named is not None else collector.collect()
            for family in families:
                samples = [s for s in family.samples if s.name in self.names]
                if samples:
                    kept = Metric(family.name, family.documentation, family.type)
                    kept.samples = samples
                    yield kept
