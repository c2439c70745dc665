"""A latency run offers the rate it says it offers, evenly, whatever the message shape."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime

import orjson
import pytest

from bench.latency import LatencyResult, _check_ahead
from bench.latency_steps import steady
from bench.procs import BenchError
from bench.report import Report
from bench.streams import paced, regroup, steady_stream
from bench.targets import _latency_targets
from tracker.testing.traffic import Message

START_MS = 1_700_000_000_000
RATE = 500.0
SECONDS = 20.0


def _events_per_window(messages: list[Message], window_ms: int) -> list[int]:
    per: Counter[int] = Counter()
    for message in messages:
        per[(message.timestamp_ms - START_MS) // window_ms] += message.events
    return [per[w] for w in range(int(SECONDS * 1000) // window_ms)]


@pytest.fixture(scope="module")
def stream() -> list[Message]:
    return steady_stream(11, RATE, SECONDS, START_MS)


def test_the_steady_stream_offers_the_asked_rate_over_its_whole_window(
    stream: list[Message],
) -> None:
    # The generator's journeys grew (web vitals); a stream bounded by a count of events
    # then ended early and offered 1.6x the rate it was asked for.
    assert sum(m.events for m in stream) / SECONDS == pytest.approx(RATE, rel=0.08)
    for events in _events_per_window(stream, 5_000):
        assert events / 5 == pytest.approx(RATE, rel=0.2)


def test_arrays_are_paced_evenly_with_their_contents_and_order_kept(
    stream: list[Message],
) -> None:
    grouped = regroup(stream, 10)
    arrays = steady(11, RATE, SECONDS, 10, START_MS)
    # Without pacing, heavy customers fill up late: the last seconds hold a burst.
    assert max(_events_per_window(grouped, 1_000)) > 2 * RATE
    assert max(_events_per_window(arrays, 1_000)) <= RATE + max(m.events for m in arrays)
    assert [(m.key, m.events) for m in arrays] == [(m.key, m.events) for m in grouped]
    for before, after in zip(grouped, arrays, strict=True):
        if not before.value.startswith(b"["):  # the generator's malformed or single events
            assert after.value == before.value
            continue
        items, moved = orjson.loads(before.value), orjson.loads(after.value)
        for event in moved:
            sent = datetime.fromisoformat(event["sent_at"])
            # Skew correction shifts an event by timestamp - sent_at: zero, as before pacing.
            assert int(sent.timestamp() * 1000) == after.timestamp_ms
        assert [{**e, "sent_at": None} for e in moved] == [{**e, "sent_at": None} for e in items]


def test_pacing_times_each_message_when_the_rate_reaches_its_first_event() -> None:
    messages = [Message(b"k", b"not json", START_MS + 999, n) for n in (100, 50, 1, 100)]
    assert [m.timestamp_ms for m in paced(messages, 100.0)] == [
        START_MS + 999,
        START_MS + 1_999,
        START_MS + 2_499,
        START_MS + 2_509,
    ]
    assert paced([], 100.0) == []


def _result(rate: float, events: int, seconds: float, p99_ms: float) -> LatencyResult:
    return LatencyResult(
        "100 events", rate, seconds, events, events // 100, 100, p99_ms, p99_ms, 30, 0.5
    )


def test_a_latency_verdict_holds_only_at_the_rate_asked_for() -> None:
    full = _result(1_000, 20_000, 20.0, 400)
    assert full.offered == 1_000
    short = _result(1_000, 18_000, 20.0, 400)  # the producer fell 10% short of the ask
    report = Report("make bench", "now", {}, "kafka", 8, latency=[full, short])
    (_, _, met), (_, measured, verdict) = _latency_targets(report)
    assert (met, verdict) == ("met", "missed")
    assert "under-offered" in measured


def test_a_live_stream_due_before_it_could_be_sent_is_refused_not_measured() -> None:
    # Generated with too short a lead, its first seconds went out in one burst and the
    # backlog they made read as the worker's latency (p99 2.8 s at 3,600 events/s).
    now_ms = int(time.time() * 1000)
    _check_ahead(Message(b"k", b"{}", now_ms + 5_000, 1), 3.0)
    with pytest.raises(BenchError, match=r"was due 2\.\d s before sending"):
        _check_ahead(Message(b"k", b"{}", now_ms - 2_000, 1), 3.0)
