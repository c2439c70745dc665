"""The collector's consent gate is default deny, like the worker's (PRIVACY.md)."""

from __future__ import annotations

from tests.unit.collector_support import FakeBroker, collector, metric, post
from tests.unit.helpers import ev


async def test_events_without_readable_consent_never_reach_kafka() -> None:
    broker = FakeBroker()
    unreadable = [
        ev("page_view", "anna@example.com", 0, consent=None),
        {**ev("page_view", "anna@example.com", 1), "consent": None},
        ev("page_view", "anna@example.com", 2, consent={}),
        ev("order", "anna@example.com", 3, consent={"analytics": "yes", "marketing": True}),
        ev("page_view", "anna@example.com", 4, consent=None, channel="fax"),  # and malformed
    ]
    async with collector(broker) as client:
        status, body, _ = await post(client, [*unreadable, ev("page_view", "bo", 5)])
        dropped = await metric(client, "tracker_collector_events_total", outcome="no_consent")
        rejected = await metric(client, "tracker_collector_events_total", outcome="rejected")
    assert (status, body["accepted"], body["dropped"]) == (202, 1, 5)
    assert (dropped, rejected) == (5, 0)
    assert [m.key for m in broker.messages] == [b"bo"]
    assert b"anna@example.com" not in b"".join(m.value for m in broker.messages)
