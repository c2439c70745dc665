"""POST /v1/events through the real aiohttp app, with a fake producer injected."""

from __future__ import annotations

import time
from typing import Any

import orjson

from tests.unit.collector_support import BROWSER_UA, FakeBroker, collector, metric, post
from tests.unit.helpers import ev
from tracker.collector import SinkUnavailableError


def _broken(event: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**event, **fields}


async def test_batch_is_written_as_one_message_per_customer_after_the_ack() -> None:
    broker = FakeBroker()
    events = [
        ev("page_view", "ana", 0, sent_at="2026-05-04T09:00:05Z"),
        ev("page_view", "ben", 1),
        ev("interaction", "ana", 2),
        ev("order", "ana", 3),
        ev("page_ping", "ben", 4),
    ]
    async with collector(broker) as client:
        before = time.time_ns() // 1_000_000
        status, body, _ = await post(client, events)
        after = time.time_ns() // 1_000_000
    assert status == 202
    assert body == {"accepted": 5, "rejected": [], "dropped": 0}
    [(messages, timestamp_ms)] = broker.written
    assert before <= timestamp_ms <= after, "the record timestamp is the receive time"
    assert [m.key for m in messages] == [b"ana", b"ben"]
    ana = orjson.loads(messages[0].value)
    assert [e["event_id"] for e in ana] == [
        events[0]["event_id"],
        events[2]["event_id"],
        events[3]["event_id"],
    ]
    assert ana[0] == events[0], "events go to Kafka as sent, sent_at included"
    assert [m.events for m in messages] == [3, 2]


async def test_send_beacon_text_plain_and_a_single_object() -> None:
    broker = FakeBroker()
    async with collector(broker) as client:
        status, _, _ = await post(client, [ev("page_view", "ana", 0)], content_type="text/plain")
        assert status == 202
        status, body, _ = await post(client, ev("page_view", "ana", 1))
        assert (status, body["accepted"]) == (202, 1)
        status, _, _ = await post(client, [ev("page_view", "ana", 0)], content_type="text/html")
        assert status == 415
    assert len(broker.events()) == 2


async def test_fully_invalid_batch_is_400_with_errors_per_event() -> None:
    broker = FakeBroker()
    bad = [
        _broken(ev("page_view", "ana", 0), touchpoint="Home Page"),
        _broken(ev("interaction", "ana", 1), action=None, extra_field=1),
    ]
    async with collector(broker) as client:
        status, body, _ = await post(client, bad)
        assert await metric(client, "tracker_collector_events_total", outcome="rejected") == 2
        assert await metric(client, "tracker_collector_requests_total", code="400") == 1
    assert status == 400
    assert body["error"] == "invalid_events"
    assert [r["index"] for r in body["rejected"]] == [0, 1]
    assert body["rejected"][0]["event_id"] == bad[0]["event_id"]
    assert {e["field"] for e in body["rejected"][0]["errors"]} == {"touchpoint"}
    assert {e["field"] for e in body["rejected"][1]["errors"]} == {"action", "extra_field"}
    assert broker.written == []


async def test_partly_invalid_batch_accepts_the_valid_events() -> None:
    broker = FakeBroker()
    good = [ev("page_view", "ana", 0), ev("order", "ana", 5)]
    bad = _broken(ev("order", "ana", 3), currency="euro")
    async with collector(broker) as client:
        status, body, _ = await post(client, [good[0], bad, good[1]])
        assert await metric(client, "tracker_collector_events_total", outcome="accepted") == 2
        assert await metric(client, "tracker_collector_events_total", outcome="rejected") == 1
    assert status == 202
    assert body["accepted"] == 2
    assert [(r["index"], r["event_id"]) for r in body["rejected"]] == [(1, bad["event_id"])]
    assert body["rejected"][0]["errors"][0]["field"] == "currency"
    assert broker.events() == good


async def test_bodies_that_are_not_batches_are_400() -> None:
    async with collector() as client:
        for body in (b"not json", b"[]", b'"page_view"', b"\xff\xfe"):
            status, reply, _ = await post(client, body)
            assert (status, reply["error"]) == (400, "invalid_json"), body


async def test_size_and_count_limits_are_413() -> None:
    broker = FakeBroker()
    async with collector(broker, collector_max_body_bytes=4096, collector_max_events=3) as client:
        big = [ev("page_view", "ana", 0, properties={"blob": "x" * 1500}) for _ in range(3)]
        status, reply, _ = await post(client, big)
        assert (status, reply["error"]) == (413, "too_large")

        async def chunks() -> Any:  # no Content-Length: the read itself must stop
            for _ in range(10):
                yield b" " * 1000

        response = await client.post(
            "/v1/events", data=chunks(), headers={"Content-Type": "application/json"}
        )
        assert response.status == 413
        status, reply, _ = await post(client, [ev("page_ping", "ana", i) for i in range(4)])
        assert (status, reply["error"]) == (413, "too_many_events")
        assert await metric(client, "tracker_collector_requests_total", code="413") == 3
    assert broker.written == []


async def test_events_without_consent_are_never_written_but_withdrawals_are() -> None:
    broker = FakeBroker()
    no_consent = ev("page_view", "ana", 0, analytics=False)
    withdrawal = ev("consent", "ana", 1, analytics=False)
    malformed_withdrawal = {
        "event_type": "consent",
        "customer_id": "ben",
        "consent": {"analytics": False},
    }
    async with collector(broker) as client:
        status, body, _ = await post(client, [no_consent, withdrawal, malformed_withdrawal])
        assert await metric(client, "tracker_collector_events_total", outcome="no_consent") == 1
        status_only_dropped, body_only_dropped, _ = await post(client, [no_consent])
    assert (status, body["accepted"], body["dropped"]) == (202, 2, 1)
    assert broker.events() == [withdrawal, malformed_withdrawal]
    assert [m.key for m in broker.messages] == [b"ana", b"ben"]
    assert (status_only_dropped, body_only_dropped["accepted"]) == (202, 0)


async def test_broker_failure_is_503_with_retry_after_and_nothing_acknowledged() -> None:
    broker = FakeBroker(error=SinkUnavailableError("broker down"))
    async with collector(broker, collector_retry_after=7) as client:
        status, body, headers = await post(client, [ev("page_view", "ana", 0)])
        assert (status, body["error"], headers["Retry-After"]) == (503, "unavailable", "7")
        broker.error = RuntimeError("any failure at all")
        status, _, _ = await post(client, [ev("page_view", "ana", 0)])
        assert status == 503
        assert await metric(client, "tracker_collector_events_total", outcome="accepted") == 0
        assert await metric(client, "tracker_collector_events_total", outcome="unavailable") == 2


async def test_broker_timeout_is_503() -> None:
    broker = FakeBroker(hang=True)
    async with collector(broker, collector_produce_timeout=0.2) as client:
        started = time.monotonic()
        status, _, headers = await post(client, [ev("page_view", "ana", 0)])
        assert status == 503 and "Retry-After" in headers
        assert time.monotonic() - started < 2
        assert await metric(client, "tracker_collector_request_duration_seconds_count") == 1


async def test_bots_are_dropped_and_counted_by_reason() -> None:
    broker = FakeBroker()
    headless = BROWSER_UA.replace("Chrome/", "HeadlessChrome/")
    async with collector(broker) as client:
        for agent in (headless, "Googlebot/2.1 (+http://www.google.com/bot.html)", ""):
            status, body, _ = await post(
                client, [ev("page_view", "ana", 0)] * 2, headers={"User-Agent": agent}
            )
            assert (status, body["accepted"]) == (202, 0)
        bots = "tracker_collector_bot_requests_total"
        assert await metric(client, bots, reason="headlesschrome") == 1
        assert await metric(client, bots, reason="bot") == 1
        assert await metric(client, bots, reason="no_user_agent") == 1
        assert await metric(client, "tracker_collector_events_total", outcome="bot") == 6
    assert broker.written == []


async def test_rate_limit_per_client_is_429_with_retry_after() -> None:
    now = [1000.0]
    broker = FakeBroker()
    limits = {"collector_rate_limit": 0.5, "collector_rate_burst": 2, "collector_proxy_hops": 1}
    async with collector(broker, clock=lambda: now[0], **limits) as client:
        one = {"X-Forwarded-For": "203.0.113.9, 198.51.100.1"}  # client, as our proxy saw it
        codes = [(await post(client, [ev("page_view", "a", 0)], headers=one))[0] for _ in range(3)]
        assert codes == [202, 202, 429]
        status, body, headers = await post(client, [ev("page_view", "a", 0)], headers=one)
        assert (status, body["error"], headers["Retry-After"]) == (429, "rate_limited", "2")
        other = {"X-Forwarded-For": "203.0.113.9, 198.51.100.2"}
        assert (await post(client, [ev("page_view", "b", 0)], headers=other))[0] == 202
        now[0] += 2.0
        assert (await post(client, [ev("page_view", "a", 0)], headers=one))[0] == 202
        assert await metric(client, "tracker_collector_requests_total", code="429") == 2
    assert len(broker.written) == 4


async def test_forwarded_for_is_ignored_without_trusted_proxies() -> None:
    now = [0.0]
    limits = {"collector_rate_limit": 1, "collector_rate_burst": 1}
    async with collector(clock=lambda: now[0], **limits) as client:
        assert (await post(client, [ev("page_view", "a", 0)]))[0] == 202
        spoofed = {"X-Forwarded-For": "192.0.2.77"}  # a client cannot pick another bucket
        assert (await post(client, [ev("page_view", "a", 0)], headers=spoofed))[0] == 429
