"""The Segment API on the collector: write keys, mapping, consent, per-message errors.

Expected events are written out by hand from docs/segment.md, not derived from the code.
"""

from __future__ import annotations

import base64
import gzip
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from tests.unit.collector_support import Client, FakeBroker, collector, metric
from tracker.collector.segment import messages_of
from tracker.collector.segment_auth import authenticate, parse_write_keys
from tracker.collector.segment_map import KINDS, Mapped, Source, map_message
from tracker.core.contract import MODELS, parse_event

KEYS = "wk-live-1,wk-live-2,wk-cmp:upstream"
CONSENTED = {"consent": {"categoryPreferences": {"Analytics": True, "Advertising": False}}}
NOW = "2026-05-04T09:00:00.000Z"
CONTRACT_FIELDS = {name for model in MODELS.values() for name in model.model_fields}


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


async def call(
    client: Client,
    path: str,
    body: Any,
    key: str | None = "wk-live-1",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    sent = {"Content-Type": "application/json"}
    if key is not None:
        sent["Authorization"] = basic(key)
    sent.update(headers or {})
    response = await client.post(path, data=data, headers=sent)
    return response.status, orjson.loads(await response.read())


def msg(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "messageId": fields.pop("messageId", f"m-{kind}-{len(fields)}"),
        "anonymousId": "anon-1",
        "timestamp": NOW,
        "context": {**CONSENTED, **fields.pop("context", {})},
        **fields,
    }


def test_write_keys_rotation_upstream_and_reasons() -> None:
    keys = parse_write_keys(SecretStr(KEYS))
    assert [k.upstream_consent for k in keys] == [False, False, True]
    assert authenticate(basic("wk-live-2"), keys) == keys[1]
    assert authenticate(None, keys) == "missing"
    assert authenticate("Bearer x", keys) == "malformed"
    assert authenticate("Basic !!!", keys) == "malformed"
    assert authenticate(basic("wk-old"), keys) == "unknown_key"


async def test_wrong_or_missing_key_is_401_counted_by_reason() -> None:
    broker = FakeBroker()
    async with collector(broker, write_keys=KEYS) as client:
        batch = {"batch": [msg("page", name="Home")]}
        assert (await call(client, "/v1/batch", batch, key=None))[0] == 401
        assert (await call(client, "/v1/batch", batch, key="wk-nope"))[0] == 401
        status, body = await call(client, "/v1/batch", batch, headers={"Authorization": "Bearer"})
        assert status == 401 and body == {"success": False, "error": "unauthorized"}
        for reason in ("missing", "unknown_key", "malformed"):
            assert await metric(client, "tracker_segment_auth_failures_total", reason=reason) == 1
        assert await metric(client, "tracker_segment_requests_total", code="401") == 3
    assert broker.written == []


def every_call() -> list[dict[str, Any]]:
    return [
        msg("page", name="Product Detail", category="Product", properties={"path": "/p/42"}),
        msg("page", properties={"path": "/"}, context={"library": {"name": "analytics.js"}}),
        msg("screen", name="Cart"),
        msg("track", event="Newsletter Signup", context={"page": {"path": "/blog/x"}}),
        msg("track", event="Product Added"),
        msg("track", event="Checkout Started"),
        msg(
            "track",
            event="Order Completed",
            userId="cust-9",
            properties={
                "order_id": "o-1",
                "currency": "eur",
                "products": [{"price": 19.99, "quantity": 2}, {"price": 5}],
            },
        ),
        msg("identify", userId="cust-9", traits={"email": "x@y"}),
        msg("alias", userId="cust-9", previousId="anon-7", anonymousId=None),
        msg("identify", anonymousId=None, userId="cust-9"),  # traits only: ignored
        msg("group", groupId="acme"),  # ignored: the account rides on context.groupId
        msg("track", event="Viewed", context={"groupId": "acme", "channel": "store"}),
    ]


async def test_every_call_maps_as_documented() -> None:
    broker = FakeBroker()
    batch = every_call()
    async with collector(broker, write_keys=KEYS) as client:
        status, body = await call(client, "/v1/batch", {"batch": batch, "sentAt": NOW})
        assert (status, body) == (200, {"success": True, "accepted": 10})
        assert await metric(client, "tracker_segment_messages_total", outcome="ignored") == 2
    events = broker.events()
    shape = [
        (e["event_type"], e["customer_id"], e["channel"], e["touchpoint"], e.get("action"))
        for e in events
    ]
    assert sorted(shape, key=str) == sorted(
        [
            ("page_view", "anon-1", "web", "product", None),
            ("page_view", "anon-1", "web", "home", None),
            ("page_view", "anon-1", "app", "cart", None),
            ("interaction", "anon-1", "web", "blog", "newsletter_signup"),
            ("interaction", "anon-1", "web", "product", "add_to_cart"),
            ("interaction", "anon-1", "web", "checkout", "checkout_started"),
            ("order", "cust-9", "web", "checkout", None),
            ("identify", "cust-9", "web", "account", None),
            ("identify", "cust-9", "web", "account", None),
            ("interaction", "anon-1", "store", "other", "viewed"),
        ],
        key=str,
    )
    by_type = {e["event_type"]: e for e in events}
    order = by_type["order"]
    assert (order["order_id"], order["revenue"], order["currency"]) == ("o-1", "44.980000", "EUR")
    assert order["properties"] == {"items": 3}
    assert order["sent_at"] == NOW and order["occurred_at"] == NOW
    identifies = [e for e in events if e["event_type"] == "identify"]
    assert {e["anonymous_id"] for e in identifies} == {"anon-1", "anon-7"}
    assert [e["account_id"] for e in events if "account_id" in e] == ["acme"]
    assert all(e["consent"] == {"analytics": True, "marketing": False} for e in events)
    assert all("traits" not in e and "integrations" not in e for e in events)
    keys = [m.key for m in broker.messages]
    assert sorted(keys) == [b"anon-1", b"cust-9"], "one Kafka message per customer"


async def test_consent_default_deny_upstream_and_configured_categories() -> None:
    bare = {"type": "page", "messageId": "m1", "anonymousId": "a", "timestamp": NOW}
    onetrust = {**bare, "messageId": "m2", "context": {"consent": {"categoryPreferences": {
        "C0002": True, "C0004": True, "C0003": False}}}}  # fmt: skip
    refused = {**bare, "messageId": "m3", "context": {"consent": {"categoryPreferences": {
        "analytics": True, "statistics": False}}}}  # fmt: skip
    broker = FakeBroker()
    async with collector(broker, write_keys=KEYS) as client:
        status, body = await call(client, "/v1/batch", {"batch": [bare, onetrust, refused]})
        assert (status, body["accepted"]) == (200, 1)
        assert await metric(client, "tracker_segment_messages_total", outcome="no_consent") == 2
        await call(client, "/v1/batch", {"batch": [bare]}, key="wk-cmp")  # consent upstream
    consents = [e["consent"] for e in broker.events()]
    assert consents == [
        {"analytics": True, "marketing": True},  # C0002 and C0004: OneTrust's ids
        {"analytics": True, "marketing": False},  # upstream: analytics only
    ]
    broker = FakeBroker()
    async with collector(
        broker, write_keys=KEYS, segment_consent_categories="Stats:analytics"
    ) as c:
        stats = {**bare, "context": {"consent": {"categoryPreferences": {"stats": True}}}}
        assert (await call(c, "/v1/batch", {"batch": [stats, onetrust]}))[1]["accepted"] == 1


async def test_a_bad_message_never_costs_the_good_ones() -> None:
    broker = FakeBroker()
    good = msg("page", name="Home", messageId="good")
    bad = [
        "not an object",
        msg("teleport", messageId="b1"),
        msg("track", messageId="b2"),  # no event name
        msg("page", messageId="b3", anonymousId=None),  # no id at all
        msg("track", event="Order Completed", messageId="b4", properties={"revenue": -5}),
        msg("page", messageId="b5", properties={"blob": "x" * 40_000}),  # over 32 KB
        msg("page", messageId="b6", timestamp="yesterday"),
    ]
    async with collector(broker, write_keys=KEYS) as client:
        status, body = await call(client, "/v1/batch", {"batch": [good, *bad]})
        assert (status, body["success"], body["accepted"]) == (200, True, 1)
        rules = {r["index"]: r["errors"][0]["rule"] for r in body["rejected"]}
        assert rules == {
            1: "invalid:message",
            2: "invalid:type",
            3: "invalid:event",
            4: "invalid:userId",
            5: "out_of_range:revenue",
            6: "out_of_range:message",
            7: "invalid:occurred_at",
        }
        assert await metric(client, "tracker_segment_messages_total", outcome="rejected") == 7
        status, body = await call(client, "/v1/track", bad[2])
        assert (status, body["success"], body["error"]) == (400, False, "invalid_messages")
    assert [e["event_id"] for e in broker.events()] == ["good"]


async def test_single_calls_gzip_and_limits() -> None:
    broker = FakeBroker()
    async with collector(broker, write_keys=KEYS) as client:
        assert (await call(client, "/v1/page", msg("track", name="Home")))[0] == 200
        zipped = gzip.compress(orjson.dumps({"batch": [msg("screen", name="Home")]}))
        status, _ = await call(client, "/v1/batch", zipped, headers={"Content-Encoding": "gzip"})
        assert status == 200
        big = {"batch": [msg("page", properties={"x": "y" * 30_000}) for _ in range(20)]}
        assert (await call(client, "/v1/batch", big))[0] == 413
        status, body = await call(client, "/v1/batch", b"\x1f\x8b no", headers={
            "Content-Encoding": "gzip"})  # fmt: skip
        assert (status, body["error"]) == (400, "invalid_gzip")
        assert (await call(client, "/v1/batch", b"{", headers={"Content-Type": "a/b"}))[0] == 415
        assert (await call(client, "/v1/batch", {"batch": []}))[0] == 400
        assert (await call(client, "/v1/batch", [1]))[0] == 400
    # The path decides the call: a page body sent to /v1/page is a page view.
    assert [e["event_type"] for e in broker.events()] == ["page_view", "page_view"]
    assert broker.events()[1]["channel"] == "app"


async def test_broker_down_is_503_and_nothing_is_success() -> None:
    broker = FakeBroker(error=RuntimeError("down"))
    async with collector(broker, write_keys=KEYS, collector_retry_after=3) as client:
        response = await client.post(
            "/v1/batch",
            data=orjson.dumps({"batch": [msg("page", name="Home")]}),
            headers={"Authorization": basic("wk-live-1"), "Content-Type": "application/json"},
        )
        assert response.status == 503 and response.headers["Retry-After"] == "3"
        assert await metric(client, "tracker_segment_messages_total", outcome="unavailable") == 1


async def test_user_agents_go_on_for_the_worker_unless_switched_off() -> None:
    agent = "Mozilla/5.0 (compatible; Googlebot/2.1)"
    batch = {
        "batch": [
            msg("page", messageId="a", context={"userAgent": agent}),
            msg("page", messageId="b", context={"library": {"name": "analytics.js"}}),
            msg("page", messageId="c", context={"library": {"name": "analytics-python"}}),
        ]
    }
    broker = FakeBroker()
    async with collector(broker, write_keys=KEYS) as client:
        await call(client, "/v1/batch", batch)
    agents = {e["event_id"]: e.get("user_agent") for e in broker.events()}
    assert agents == {"a": agent, "b": "", "c": None}, "a browser without an agent: empty"
    broker = FakeBroker()
    async with collector(broker, write_keys=KEYS, bot_filter_off="segment") as client:
        await call(client, "/v1/batch", batch)
    assert all("user_agent" not in e for e in broker.events())


def test_a_customers_events_are_split_at_the_workers_message_limits() -> None:
    events = [{"event_id": str(i), "pad": "x" * 100} for i in range(7)]
    messages = messages_of({"ana": events}, max_events=3, max_bytes=10_000)
    assert [m.events for m in messages] == [3, 3, 1]
    assert [e["event_id"] for m in messages for e in orjson.loads(m.value)] == list("0123456")
    messages = messages_of({"ana": events}, max_events=100, max_bytes=300)
    assert all(len(m.value) <= 300 for m in messages) and sum(m.events for m in messages) == 7


VALID = {
    "type": "track",
    "event": "Order Completed",
    "messageId": "m-1",
    "anonymousId": "a-1",
    "timestamp": NOW,
    "properties": {"revenue": 10, "currency": "EUR"},
    "context": {"consent": {"categoryPreferences": {"analytics": True}}},
}
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=30,
)
FIELDS = st.sampled_from(
    ["type", "userId", "anonymousId", "previousId", "messageId", "timestamp", "sentAt",
     "event", "name", "category", "channel", "properties", "context"]
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    item=st.one_of(
        JSON,
        st.dictionaries(FIELDS, JSON, max_size=8),
        # A valid consented message with some fields replaced: mostly mapped, sometimes not.
        st.dictionaries(FIELDS, JSON, max_size=3).map(lambda extra: {**VALID, **extra}),
    ),
    kind=st.sampled_from([None, *KINDS]),
    upstream=st.booleans(),
)
def test_any_json_maps_to_an_event_a_skip_or_an_error_never_an_exception(
    item: Any, kind: str | None, upstream: bool
) -> None:
    source = Source(upstream, (("analytics", "analytics"), ("ads", "marketing")), True)
    result = map_message(item, kind, source, NOW)
    if item == VALID and kind in (None, "track"):
        assert isinstance(result, Mapped)
    if isinstance(result, Mapped):
        parse_event(result.event)  # what goes to Kafka is a valid contract event
        assert set(result.event) <= CONTRACT_FIELDS
