"""The traffic generator logs people in mid-journey, some on a second device.

Its streams feed the demo, the generated-stream and reliability tests and the
benchmarks, which so exercise identity stitching; this pins what they contain and
that, delivered late in any interleaving, they end with the reference's counters.
"""

from __future__ import annotations

import random

import pytest

from tests.unit.helpers import T0_MS, config
from tests.unit.identity_cluster import Cluster
from tests.unit.test_identity_interleavings import counters
from tracker.core.contract import parse_event
from tracker.testing.streams import events_of
from tracker.testing.traffic import Message, TrafficGenerator


@pytest.fixture(scope="module")
def stream() -> list[Message]:
    generator = TrafficGenerator(random.Random(11), returning_pool=200)
    return generator.simulate(3000, T0_MS, 50.0, max_batch=10)


def _events(messages: list[Message]) -> list[tuple[bytes | None, dict]]:  # type: ignore[type-arg]
    return [(m.key, event) for m, event in events_of(messages) if "occurred_at" in event]


def test_logins_are_valid_identify_events_keyed_by_the_customer(stream: list[Message]) -> None:
    events = _events(stream)
    logins = [e for _, e in events if e["event_type"] == "identify"]
    assert len(logins) > 40
    for login in logins:
        parse_event(login)
        assert login["anonymous_id"].startswith("anon-")
        assert login["consent"]["analytics"] is True
    assert all(key == e["customer_id"].encode() for key, e in events if key is not None)
    devices = {e["anonymous_id"] for e in logins}
    assert sum(e["customer_id"] in devices for _, e in events) > 3 * len(devices)  # browsed


def test_the_reference_links_merges_and_forwards_them(stream: list[Message]) -> None:
    cluster = Cluster(4, config(idle_timeout=10**6))
    for message in stream:
        cluster.raw(message.key, message.value, message.timestamp_ms)
    assert cluster.total("tracker_identity_links_total") > 40
    assert cluster.total("tracker_sessions_merged_total") > 5  # the second devices
    assert cluster.total("tracker_events_forwarded_total") >= 2  # the other tabs
    assert cluster.total("tracker_identity_conflicts_total") == 0


@pytest.mark.parametrize("seed", [1, 2])
def test_delivered_late_in_any_interleaving_they_end_as_the_reference(
    stream: list[Message], seed: int
) -> None:
    cfg = config(idle_timeout=10**6)
    reference, late = Cluster(4, cfg), Cluster(4, cfg, auto=False)
    rng = random.Random(seed)
    for message in stream:
        reference.raw(message.key, message.value, message.timestamp_ms)
        late.raw(message.key, message.value, message.timestamp_ms)
        if rng.random() < 0.3:
            late.deliver(rng.randint(0, 4))
            late.consume()
    for cluster in (reference, late):
        cluster.settle()
        cluster.close_all()
    assert counters(late) == counters(reference)
