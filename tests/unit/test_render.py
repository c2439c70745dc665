"""``/metrics`` text from ``render`` is byte for byte prometheus-client's ``generate_latest``."""

from __future__ import annotations

import math
from collections.abc import Iterable

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
    StateSetMetricFamily,
    SummaryMetricFamily,
    UnknownMetricFamily,
)
from prometheus_client.registry import Collector

from tests.support.golden import GOLDEN_STREAM
from tests.unit.helpers import DAY, feed_golden
from tracker.metrics.render import Only, render
from tracker.metrics.samples import collected, parse_exposition


class Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return iter(self.families)


def registry_of(families: list[Metric]) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(Families(families))
    return registry


def test_the_exporter_over_the_golden_stream_renders_as_the_library_does() -> None:
    pipe, last = feed_golden(GOLDEN_STREAM)
    for moment in (last, last + 11 * DAY * 1000):  # sessions open, then all closed
        pipe.tick(moment)
        registry = pipe.registry()
        text = render(registry)
        assert text == generate_latest(registry)
        assert text.count(b"\n") > 1000  # the real exposition, not an empty registry


def test_every_kind_of_family_renders_as_the_library_does() -> None:
    # Counters with created times, histograms, info and state sets, NaN and infinities,
    # timestamps, and label values that need escaping: every branch of the format.
    counter = CounterMetricFamily("c", "help with \\ and\nnewline", labels=["a", "b"], created=1.5)
    counter.add_metric(['quote " here', "back\\slash"], 3, created=2.25, timestamp=7.5)
    counter.add_metric(["new\nline", "ünïcode"], float("inf"))
    histogram = HistogramMetricFamily("h", "a histogram", labels=["p"])
    histogram.add_metric(["0"], [("1.0", 2), ("+Inf", 3)], sum_value=4.5)
    gh = GaugeHistogramMetricFamily("gh", "a gauge histogram", labels=["p"])
    gh.add_metric(["1"], [("+Inf", 3)], gsum_value=2.0)
    info = InfoMetricFamily("i", "info", labels=["x"])
    info.add_metric(["y"], {"version": "1.2"})
    states = StateSetMetricFamily("s", "states", labels=["x"])
    states.add_metric(["y"], {"on": True, "off": False})
    summary = SummaryMetricFamily("sm", "summary", labels=["x"])
    summary.add_metric(["y"], count_value=2, sum_value=3.0)
    unknown = UnknownMetricFamily("u", "unknown")
    unknown.add_metric([], -0.0)
    gauge = GaugeMetricFamily("g", "nan and big", labels=["k"])
    gauge.add_metric(["1"], math.nan)
    gauge.add_metric(["2"], 1e300)
    gauge.add_metric(["3"], 123456789012)
    registry = registry_of([counter, histogram, gh, info, states, summary, unknown, gauge])
    assert render(registry) == generate_latest(registry)


label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,6}", fullmatch=True).filter(
    lambda name: not name.startswith("__")
)
values = st.floats(allow_nan=True) | st.integers(-(2**60), 2**60)


@st.composite
def gauges(draw: st.DrawFn) -> Metric:
    name = draw(st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,10}", fullmatch=True))
    names = draw(st.lists(label_names, max_size=3, unique=True))
    family = GaugeMetricFamily(name, draw(st.text(max_size=20)), labels=names)
    for _ in range(draw(st.integers(0, 4))):
        label_values = [draw(st.text(max_size=8)) for _ in names]
        timestamp = draw(st.none() | st.floats(0, 2e9))
        family.add_metric(label_values, draw(values), timestamp=timestamp)
    return family


@settings(max_examples=200, deadline=None)
@given(st.lists(gauges(), max_size=4, unique_by=lambda family: family.name))
def test_any_gauges_render_as_the_library_does(families: list[Metric]) -> None:
    registry = registry_of(families)
    assert render(registry) == generate_latest(registry)


# ``/metrics?name[]=...``: the samples prometheus-client's restricted registry keeps.
NAME_SETS = (
    {"tracker_events_total", "tracker_events_dropped_total", "tracker_erasures_total"},
    {"tracker_reach", "tracker_events_total"},  # a gauge: every part is built
    {"tracker_web_vital_bucket", "tracker_revenue_total", "tracker_account_reach"},
    {"tracker_no_such_metric"},
)


def restricted(exporter: Collector, names: set[str]) -> bytes:
    """The library's ``name[]`` output (it skips collectors without ``describe`` unless told)."""
    registry = CollectorRegistry(support_collectors_without_names=True)
    registry.register(exporter)
    return generate_latest(registry.restricted_registry(names))


def test_named_samples_are_what_the_library_keeps() -> None:
    pipe, last = feed_golden(GOLDEN_STREAM)
    pipe.tick(last)
    for names in NAME_SETS:
        assert render(Only([pipe.exporter()], names)) == restricted(pipe.exporter(), names)
    assert b"tracker_events_total{" in render(Only([pipe.exporter()], NAME_SETS[0]))


def test_partition_counters_alone_leave_the_windowed_gauges_unbuilt() -> None:
    pipe, last = feed_golden(GOLDEN_STREAM)
    pipe.tick(last)
    exporter = pipe.exporter()

    def unbuildable(_parts: object) -> list[Metric]:
        raise AssertionError("the windowed gauges were built")

    exporter._gauges = unbuildable  # type: ignore[method-assign,assignment]
    text = render(Only([exporter], NAME_SETS[0]))
    assert exporter.scrape_errors == dict.fromkeys(exporter.scrape_errors, 0)
    assert text == restricted(pipe.exporter(), NAME_SETS[0])


def test_samples_read_from_the_families_are_those_the_rendered_text_holds() -> None:
    pipe, last = feed_golden(GOLDEN_STREAM)
    for moment in (last, last + 11 * DAY * 1000):  # sessions open, then all closed
        pipe.tick(moment)
        registry = pipe.registry()
        parsed = parse_exposition(render(registry).decode())
        assert repr(collected(registry)) == repr(parsed)  # repr: NaN equals itself
        assert len(parsed) > 1000


@settings(max_examples=100, deadline=None)
@given(st.lists(gauges(), max_size=4, unique_by=lambda family: family.name))
def test_any_gauges_read_from_the_families_as_from_the_text(families: list[Metric]) -> None:
    registry = registry_of(families)
    assert repr(collected(registry)) == repr(parse_exposition(render(registry).decode()))
