"""The metric catalogue is what is exported: every family declared, every declaration emitted."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from datetime import UTC, datetime
from types import SimpleNamespace

import orjson
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from tests.support.golden import GOLDEN_STREAM
from tests.unit.helpers import DAY, T0_MS, Harness, config, feed_golden, samples_of
from tracker.collector.metrics import CollectorMetrics
from tracker.kafka.topics import ACCOUNT_TABLE, TABLE
from tracker.metrics.catalogue import (
    CATALOGUE,
    STATE_TABLES,
    MetricSpec,
    UndeclaredMetricError,
    of_process,
    spec,
    undeclared,
)
from tracker.metrics.exposition import CHECK_DECLARED, UndeclaredCheck
from tracker.metrics.samples import total
from tracker.stream.web import StateRows
from tracker.testing.reference import ReferencePipeline
from tracker.testing.traffic import TrafficGenerator

_FAMILIES = {s.family: s for s in CATALOGUE.values()}


def _generated(events: int = 5000) -> ReferencePipeline:
    """Generated traffic (enough for feedback besides the web vitals), a quiet day, rare inputs."""
    pipe = ReferencePipeline(config(), partitions=4)
    messages = TrafficGenerator(random.Random(7)).simulate(events, T0_MS, rate=50.0, max_batch=3)
    for message in messages:
        pipe.feed(message.key, message.value, message.timestamp_ms, message.timestamp_ms)
    end = messages[-1].timestamp_ms + DAY * 1000
    pipe.tick(end)
    _rated_support(pipe, end)
    # A command the worker does not know, and a record the account stage cannot read.
    pipe.processors[0].process(b"someone", b"{}", 10**9, end, end, control="reboot")
    pipe.accounts[0].process(b"not an activity batch", 10**9, end)
    pipe.tick(end)
    return pipe


def _rated_support(pipe: ReferencePipeline, at_ms: int) -> None:
    """A chat, resolved, and its rating: rare in a short generated stream (tickets take hours)."""
    base = {"schema_version": 1, "customer_id": "rater", "channel": "web", "touchpoint": "support"}
    base["consent"] = {"analytics": True, "marketing": False}
    at = datetime.fromtimestamp(at_ms / 1000, UTC).isoformat()
    ticket = {"ticket_id": "T-rated", "support_channel": "chat"}
    events = [
        {**base, **ticket, "event_id": "r1", "event_type": "support_contact", "occurred_at": at},
        {**base, **ticket, "event_id": "r2", "event_type": "support_resolved", "occurred_at": at},
        {
            **base,
            "event_id": "r3",
            "event_type": "feedback",
            "occurred_at": at,
            "csat": 5,
            "ces": 2,
        },
    ]
    pipe.feed(b"rater", orjson.dumps(events), at_ms, at_ms)
    pipe.tick(at_ms + 3_600_000)  # quiet for an hour: the session closes


def _exposition(pipe: ReferencePipeline) -> str:
    return generate_latest(pipe.registry()).decode()


@pytest.fixture(scope="module")
def worker_text() -> str:
    return _exposition(_generated())


def _state_rows_text() -> str:
    tables = [
        SimpleNamespace(name=name, data=SimpleNamespace(data={b"k": b"v"})) for name in STATE_TABLES
    ]
    registry = CollectorRegistry()
    registry.register(StateRows(tables))
    return generate_latest(registry).decode()


def _partition_health_text() -> str:
    from tracker.stream.web import PartitionHealth

    worker = SimpleNamespace(processors={0: None, 1: None}, failed={1: None}, partitions=6)
    registry = CollectorRegistry()
    registry.register(PartitionHealth(worker))  # type: ignore[arg-type]
    return generate_latest(registry).decode()


def _dead_letter_text() -> str:
    from tracker.metrics.dead_letters import DeadLetterGauge

    registry = CollectorRegistry()
    registry.register(DeadLetterGauge(dict, lambda: 0, 72))
    return generate_latest(registry).decode()


def _collector_text() -> str:
    metrics = CollectorMetrics()
    metrics.request(202, 0.01)
    metrics.bots.labels("no_user_agent").inc()
    metrics.count("accepted", 2)
    metrics.segment_requests.labels("200").inc()
    return metrics.render().decode()


def _check_against_catalogue(text: str, process: str) -> set[str]:
    """Every family in ``text`` is declared alike; returns the declared names found."""
    found = set()
    for family in text_string_to_metric_families(text):
        if family.name.endswith("_created") and _created_of_declared(family.name):
            continue  # prometheus_client's creation time of a counter or histogram
        declared = _FAMILIES.get(family.name)
        assert declared is not None, f"{family.name} is exported but not declared"
        assert declared.process == process, family.name
        assert family.type == declared.kind, family.name
        assert family.documentation == declared.help, family.name
        assert family.samples, f"{family.name}: no samples, its labels go unchecked"
        labels = {name for sample in family.samples for name in sample.labels} - {"le"}
        assert labels == set(declared.label_names), family.name
        _check_values(declared, family)
        found.add(declared.name)
    return found


def _created_of_declared(name: str) -> bool:
    declared = _FAMILIES.get(name.removesuffix("_created"))
    return declared is not None and name in declared.series()


def _check_values(declared: MetricSpec, family: Metric) -> None:
    for label in declared.labels:
        if label.values:
            seen = {s.labels[label.name] for s in family.samples if label.name in s.labels}
            assert seen <= set(label.values), (declared.name, seen - set(label.values))


def test_the_worker_exports_exactly_what_the_catalogue_declares(worker_text: str) -> None:
    found = _check_against_catalogue(worker_text, "worker")
    found |= _check_against_catalogue(_state_rows_text(), "worker")
    found |= _check_against_catalogue(_partition_health_text(), "worker")
    found |= _check_against_catalogue(_dead_letter_text(), "worker")
    assert found == {s.name for s in of_process("worker")}


def test_the_collector_exports_exactly_what_the_catalogue_declares() -> None:
    found = _check_against_catalogue(_collector_text(), "collector")
    assert found == {s.name for s in of_process("collector")}


def test_the_declared_state_tables_are_the_worker_tables() -> None:
    assert STATE_TABLES == (TABLE, ACCOUNT_TABLE)


def _counter_keys(pipe: ReferencePipeline) -> Iterable[str]:
    for stage in (*pipe.processors.values(), *pipe.accounts.values()):
        yield from stage.aggregates.counters


def test_the_generated_stream_writes_only_declared_counter_keys() -> None:
    keys = set(_counter_keys(_generated()))
    assert {key.split("|")[0] for key in keys} >= {"tracker_events_total"}
    assert undeclared(keys) == set()


def test_the_golden_stream_writes_only_declared_counter_keys() -> None:
    pipe, last = feed_golden(GOLDEN_STREAM)
    pipe.tick(last + 11 * DAY * 1000)
    assert undeclared(_counter_keys(pipe)) == set()


def test_tests_run_the_exporter_strict() -> None:
    assert CHECK_DECLARED.strict


def test_an_undeclared_counter_key_fails_a_strict_scrape() -> None:
    h = Harness()
    h.p.aggregates.counters["tracker_made_up_total|web"] = 1
    with pytest.raises(UndeclaredMetricError, match="tracker_made_up_total"):
        h.samples()


def test_in_production_an_undeclared_key_is_logged_once_and_the_rest_exported(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tracker.metrics.exposition.CHECK_DECLARED", UndeclaredCheck())
    h = Harness()
    h.p.aggregates.counters["tracker_made_up_total|web"] = 1
    with caplog.at_level(logging.ERROR, logger="tracker.metrics"):
        samples_of({0: h.p}, h.cfg)
        rendered = samples_of({0: h.p}, h.cfg)  # scraped again: not logged again
    assert [r.getMessage() for r in caplog.records] == [
        "counter tracker_made_up_total is updated but not declared, so never exported"
    ]
    assert total(rendered, "tracker_events_late_total") == 0
    assert not [name for name, _, _ in rendered if name.startswith("tracker_made_up")]


def test_undeclared_reads_the_metric_name_of_a_counter_key() -> None:
    assert undeclared(["tracker_events_total|page_view|web", "tracker_events_late_total"]) == set()
    assert undeclared(["tracker_feedback_sentiment_score_milli|en"]) == set()
    assert undeclared(["tracker_events|page_view", "tracker_revenue_total|EUR"]) == {
        "tracker_events",
        "tracker_revenue_total",  # revenue is kept in Decimal, never under a counter key
    }


def test_a_lookup_of_an_undeclared_name_fails() -> None:
    assert spec("tracker_reach").label_names == ("window", "channel")
    with pytest.raises(UndeclaredMetricError):
        spec("tracker_reach_total")


def test_series_names_of_each_kind() -> None:
    assert spec("tracker_reach").series() == ("tracker_reach",)
    assert "tracker_events_total" in spec("tracker_events_total").series()
    histogram = spec("tracker_collector_request_duration_seconds").series()
    assert "tracker_collector_request_duration_seconds_bucket" in histogram
    assert "tracker_collector_request_duration_seconds" not in histogram


def test_names_follow_the_prometheus_conventions() -> None:
    for s in CATALOGUE.values():
        assert s.name.startswith("tracker_"), s.name
        assert s.name.endswith("_total") == (s.kind == "counter"), s.name
        assert len(set(s.label_names)) == len(s.label_names), s.name
        assert all(label.values or label.source for label in s.labels), s.name
