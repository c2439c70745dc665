"""Hostile input through the pure pipeline: every message is classified, nothing raises.

The integration scenario (tests/integration/test_reliability.py, hostile input)
sends the same fuzz through a real worker; these are its fast counterparts and
the two inputs that once escaped classification as exceptions.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import orjson
import pytest

from tests.support.hostile import DISTINCT_TOUCHPOINTS, HOT_ID, KINDS, hostile_stream
from tracker.core.bounds import PROPERTIES_MAX_DEPTH
from tracker.core.dedup import ROW_BOUND_BYTES
from tracker.core.ingest import Limits, NoConsent, Reject, Valid, classify
from tracker.core.letters import DeadLetter
from tracker.core.partition import PartitionProcessor
from tracker.core.pipeline_config import PipelineConfig
from tracker.core.pseudonym import Pseudonymizer
from tracker.metrics.samples import total
from tracker.settings import Settings
from tracker.stream.freeze import FreezeGuard
from tracker.testing.reference import ReferencePipeline
from tracker.testing.streams import counter_table, expected_samples, generated_messages


def event(**extra: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": "e1",
        "event_type": "page_view",
        "customer_id": "c1",
        "occurred_at": "2026-05-04T10:00:00Z",
        "channel": "web",
        "touchpoint": "home",
        "consent": {"analytics": True, "marketing": False},
        **extra,
    }


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("depth", [PROPERTIES_MAX_DEPTH + 1, 200, 300, 1000])
def test_deep_properties_are_an_invalid_event_not_a_crash(depth: int) -> None:
    # orjson reads 1024 levels but writes only 255: the size check used to raise TypeError.
    value = orjson.dumps(event(properties={"x": 0})).replace(b'{"x":0}', nested(depth))
    (item,) = classify("c1", value, Limits())
    assert isinstance(item, Reject) and item.reason == "invalid_event"
    assert item.rule == "out_of_range:properties"
    assert item.raw == value


@pytest.mark.parametrize("depth", [1, PROPERTIES_MAX_DEPTH])
def test_properties_within_the_depth_bound_are_valid(depth: int) -> None:
    value = orjson.dumps(event(properties={"x": 0})).replace(b'{"x":0}', nested(depth))
    (item,) = classify("c1", value, Limits())
    assert isinstance(item, Valid)


def test_deep_batch_items_are_dead_lettered_with_bytes() -> None:
    def claiming_consent(inner: bytes) -> bytes:
        return b'{"consent":{"analytics":true},"x":' + inner + b"}"

    deep_object = claiming_consent(b"[" * 300 + b"]" * 300)
    deeper = claiming_consent(b"[" * 1000 + b"]" * 1000)
    value = b"[" + orjson.dumps(event()) + b"," + deep_object + b"," + deeper + b"]"
    items = classify("c1", value, Limits())
    assert isinstance(items[0], Valid)
    rejects = [i for i in items[1:] if isinstance(i, Reject)]
    assert [r.reason for r in rejects] == ["invalid_event", "invalid_event"]
    assert rejects[0].raw == deep_object  # re-serialized by the standard library
    assert rejects[1].raw  # too deep even for that: a placeholder, never an exception


def test_deep_batch_items_without_consent_are_dropped_not_dead_lettered() -> None:
    deep = b"[" * 1000 + b"]" * 1000  # not an object: no consent to read
    value = b"[" + orjson.dumps(event()) + b"," + deep + b"]"
    items = classify("c1", value, Limits())
    assert isinstance(items[0], Valid)
    assert isinstance(items[1], NoConsent)


def test_fuzzed_stream_is_fully_classified_by_the_reference() -> None:
    good = generated_messages(seed=7, events=2_000, batch=10)
    messages, kinds = hostile_stream(7, good, duplicates=50)
    assert kinds["distinct_touchpoints"] == DISTINCT_TOUCHPOINTS
    assert set(KINDS) <= set(kinds)
    table = counter_table(expected_samples(messages, 4, "unit-test-pseudonym-key-0001"))
    rejected = Counter({k.split("=")[1][:-1]: v for k, v in table.items() if "rejected_total" in k})
    assert set(rejected) == {
        "invalid_json",
        "invalid_event",
        "key_mismatch",
        "too_large",
        "future_timestamp",
    }
    assert "tracker_events_rejected_total{reason=internal_error}" not in table
    touchpoints = {
        part.split("=")[1]
        for key in table
        if key.startswith(("tracker_journey_transitions_total", "tracker_session_exits_total"))
        for part in key[key.index("{") + 1 : -1].split(",")
    }
    assert touchpoints <= {*Settings().touchpoints, "other"}
    assert "other" in touchpoints


def test_a_hot_identifier_and_unreadable_consent_in_the_fuzzed_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    letters: list[DeadLetter] = []
    process = PartitionProcessor.process

    def recording(self: PartitionProcessor, *args: Any, **kwargs: Any) -> list[DeadLetter]:
        out = process(self, *args, **kwargs)
        letters.extend(out)
        return out

    monkeypatch.setattr(PartitionProcessor, "process", recording)
    good = generated_messages(seed=8, events=1_000, batch=10)
    messages, kinds = hostile_stream(8, good, duplicates=10)
    config = PipelineConfig.from_settings(
        Settings(), Pseudonymizer(b"unit-test-pseudonym-key-0001")
    )
    pipeline = ReferencePipeline(config, 4)
    for m in messages:
        pipeline.feed(m.key, m.value, m.timestamp_ms, m.timestamp_ms)
    hot_key = f"/c/{config.pseudonyms.of(HOT_ID)}"
    [row] = [v for s in pipeline.stores.values() for k, v in s.rows.items() if k.endswith(hot_key)]
    assert len(row) <= ROW_BOUND_BYTES
    samples = pipeline.samples()
    assert total(samples, "tracker_hot_customers_total") == 1
    assert total(samples, "tracker_events_total", channel="store") >= kinds["hot_identifier"]
    assert letters, "the fuzz makes dead letters"
    assert all(b"@example.com" not in (x.value or b"") for x in letters)
    assert all("@example.com" not in x.key for x in letters)


def test_freeze_guard_acts_only_on_freezes_that_can_cost_the_membership() -> None:
    seen: list[float] = []
    guard = FreezeGuard(limit_s=4.5, on_freeze=seen.append)
    assert FreezeGuard.for_settings(Settings()).limit_s == 4.5  # 6 s session, 1 s heartbeat
    guard.last = time.monotonic() - 2  # a short stop: the membership survives it
    guard._on_sigcont(18, None)
    assert seen == []
    guard.last = time.monotonic() - 9
    guard._on_sigcont(18, None)
    assert len(seen) == 1 and seen[0] >= 9
    guard.last = time.monotonic()
    guard.frozen_s = 7.0  # the watchdog saw it first and already moved `last`
    guard._on_sigcont(18, None)
    assert len(seen) == 2
