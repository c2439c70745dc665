"""One Kafka message into classified items: docs/metrics.md#order-of-checks."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest

from tests.unit.helpers import Harness, encode, ev
from tracker.core.ingest import Limits, NoConsent, Reject, Valid, Withdrawal, classify, decode_key

LIMITS = Limits()


def kinds(items: list[Any]) -> list[str]:
    return [item.reason if isinstance(item, Reject) else type(item).__name__ for item in items]


# --- invalid_json: once per message ----------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        b"\xff\xfe\x00garbage",  # not UTF-8
        b'{"event_type": "page_view", "customer_id": "ana\xff"}',  # invalid UTF-8 inside JSON
        b"{",
        b"",
        None,
        b"42",
        b'"page_view"',
        b"null",
        b"true",
        b"[]",
        b'[{"a": 1}',  # truncated batch
    ],
)
def test_invalid_json_is_one_reject_per_message(value: bytes | None) -> None:
    items = classify("ana", value, LIMITS)
    assert kinds(items) == ["invalid_json"]
    assert items[0].raw == (value or b"")  # type: ignore[union-attr]


def test_invalid_json_counts_once_in_the_processor_and_goes_to_the_dlq() -> None:
    h = Harness()
    letters = h.raw("ana", b"[1, 2, 3")
    assert [x.reason for x in letters] == ["invalid_json"]
    # Its consent could not be read: a digest of the bytes, never the bytes.
    assert letters[0].value is None
    assert (letters[0].size, letters[0].sha256) == (8, hashlib.sha256(b"[1, 2, 3").hexdigest())
    assert ("tracker-reject-reason", b"invalid_json") in letters[0].headers()
    assert ("tracker-letter", b"digest") in letters[0].headers()
    assert h.counters() == {
        "tracker_events_rejected_total|invalid_json": 1,
        "tracker_events_received_total": 1,
    }


# --- invalid_event: one per array item ---------------------------------------------


def test_invalid_event_per_array_item() -> None:
    good = ev("page_view", "ana", 0)
    bad = ev("page_view", "ana", 1, channel="fax")
    items = classify("ana", encode([good, bad, 7, [good], good]), LIMITS)
    # 7 and [good] are no objects: no consent can be read from them.
    assert kinds(items) == ["Valid", "invalid_event", "NoConsent", "NoConsent", "Valid"]


def test_single_bad_event_keeps_its_original_bytes_and_a_readable_detail() -> None:
    value = encode(ev("order", "ana", 0, revenue="-5"))
    [item] = classify("ana", value, LIMITS)
    assert isinstance(item, Reject)
    assert item.reason == "invalid_event"
    assert item.raw == value
    assert "revenue" in item.detail


def test_batch_item_reject_carries_that_item_only() -> None:
    bad = ev("page_view", "ana", 1, touchpoint="Bad Page")
    h = Harness()
    letters = h.raw("ana", encode([ev("page_view", "ana", 0), bad]))
    assert [x.reason for x in letters] == ["invalid_event"]
    assert orjson.loads(letters[0].value) == bad
    assert h.total("tracker_events_rejected_total", reason="invalid_event") == 1
    assert h.total("tracker_events_total", event_type="page_view") == 1


UNREADABLE_CONSENT: list[Any] = [
    None,  # missing (ev() removes a None field)
    {},
    {"marketing": True},
    {"analytics": None, "marketing": False},
    {"analytics": "true", "marketing": True},
    {"analytics": "false", "marketing": False},
    {"analytics": 1, "marketing": True},
    [True],
    "granted",
    True,
]


@pytest.mark.parametrize("consent", UNREADABLE_CONSENT)
def test_missing_null_empty_or_malformed_consent_is_no_consent(consent: Any) -> None:
    items = classify("ana", encode(ev("page_view", "ana", 0, consent=consent)), LIMITS)
    assert kinds(items) == ["NoConsent"]
    raw_null = encode({**ev("page_view", "ana", 0), "consent": None})  # an explicit null
    assert kinds(classify("ana", raw_null, LIMITS)) == ["NoConsent"]


@pytest.mark.parametrize("consent", UNREADABLE_CONSENT)
def test_an_event_without_readable_consent_is_never_stored_or_dead_lettered(
    consent: Any,
) -> None:
    h = Harness()
    raw = encode(ev("page_view", "anna@example.com", 0, consent=consent, channel="fax"))
    assert h.raw("anna@example.com", raw) == []  # malformed too: still no letter
    assert h.counters() == {
        "tracker_events_dropped_total|no_consent": 1,
        "tracker_events_received_total": 1,
    }
    assert h.state("anna@example.com") is None
    assert all(b"anna@example.com" not in v for v in h.store.rows.values())


def test_only_events_claiming_consent_reach_the_dlq_and_they_reach_it_whole() -> None:
    h = Harness()
    claims = ev("page_view", "ana", 0, channel="fax")  # analytics: true, but invalid
    denied = ev("page_view", "ana", 0, channel="fax", consent={"analytics": False})
    letters = h.raw("ana", encode([claims, denied, {"event_type": "page_view"}]))
    assert [orjson.loads(x.value or b"") for x in letters] == [claims]
    assert ("tracker-letter", b"event") in letters[0].headers()
    assert h.total("tracker_events_dropped_total", reason="no_consent") == 2


# --- key_mismatch --------------------------------------------------------------------


def test_key_mismatch_per_item() -> None:
    items = classify("ana", encode([ev("page_view", "ana", 0), ev("page_view", "bob", 0)]), LIMITS)
    assert kinds(items) == ["Valid", "key_mismatch"]


@pytest.mark.parametrize("key", [None, b"", b"\xff", b"x" * 129])
def test_unusable_key_is_a_key_mismatch(key: bytes | None) -> None:
    h = Harness()
    letters = h.raw(key, encode(ev("page_view", "ana", 0)))
    assert [x.reason for x in letters] == ["key_mismatch"]
    assert decode_key(key) is None


def test_schema_is_checked_before_key() -> None:
    items = classify("ana", encode(ev("page_view", "bob", 0, channel="fax")), LIMITS)
    assert kinds(items) == ["invalid_event"]


# --- too_large ----------------------------------------------------------------------


def sized(n: int) -> bytes:
    """A valid single-event message of exactly ``n`` bytes."""
    event = ev("page_view", "ana", 0, properties={"k": ""})
    pad = n - len(encode(event))
    return encode({**event, "properties": {"k": "x" * pad}})


def test_too_large_by_bytes_is_one_reject_before_parsing() -> None:
    limits = Limits(max_bytes=1024, max_events=500)
    assert len(sized(1024)) == 1024
    assert kinds(classify("ana", sized(1024), limits)) == ["Valid"]
    assert kinds(classify("ana", sized(1025), limits)) == ["too_large"]
    assert kinds(classify("ana", b"{" * 1025, limits)) == ["too_large"]  # not even parsed


def test_too_large_by_event_count() -> None:
    limits = Limits(max_bytes=1_048_576, max_events=3)
    three = [ev("page_view", "ana", i) for i in range(3)]
    assert kinds(classify("ana", encode(three), limits)) == ["Valid"] * 3
    four = [*three, ev("page_view", "ana", 3)]
    assert kinds(classify("ana", encode(four), limits)) == ["too_large"]


def test_too_large_counted_once_with_configured_limits() -> None:
    h = Harness(max_message_bytes=1024, max_message_events=2)
    h.raw("ana", encode([ev("page_view", "ana", i) for i in range(3)]))
    h.raw("ana", encode(ev("page_view", "ana", 0, properties={"k": "x" * 1024})))
    assert h.counters() == {
        "tracker_events_rejected_total|too_large": 2,
        "tracker_events_received_total": 2,
    }
    assert [x.reason for x in h.letters] == ["too_large", "too_large"]


def test_default_limits_are_1_mib_and_500_events() -> None:
    assert Limits() == Limits(max_bytes=1_048_576, max_events=500)
    h = Harness()
    assert h.p.limits == Limits()


# --- consent before schema -----------------------------------------------------------


@pytest.mark.parametrize(
    "item",
    [
        {"consent": {"analytics": False}},
        {"event_type": "page_view", "consent": {"analytics": False}, "junk": True},
        ev("page_view", "ana", 0, analytics=False),
        ev("page_view", "bob", 0, analytics=False),  # even with a foreign customer id
        ev("order", "ana", 0, analytics=False, revenue="-1"),
    ],
)
def test_explicit_analytics_false_is_no_consent_even_when_malformed(item: dict[str, Any]) -> None:
    assert kinds(classify("ana", encode(item), LIMITS)) == ["NoConsent"]


def test_no_consent_counted_as_dropped_not_rejected() -> None:
    h = Harness()
    letters = h.send(ev("page_view", "ana", 0, analytics=False, touchpoint="NOT VALID"))
    assert letters == []
    assert h.counters() == {
        "tracker_events_dropped_total|no_consent": 1,
        "tracker_events_received_total": 1,
    }
    assert h.state("ana") is None  # nothing stored before the gate


@pytest.mark.parametrize(
    "item",
    [
        ev("consent", "ana", 0, analytics=False),
        {"event_type": "consent", "consent": {"analytics": False}},
        {"event_type": "consent", "consent": {"analytics": False}, "occurred_at": 12},
        ev("consent", "ana", 0, analytics=False, channel="fax", extra=1),
    ],
)
def test_consent_withdrawal_is_recognised_even_when_malformed(item: dict[str, Any]) -> None:
    [result] = classify("ana", encode(item), LIMITS)
    assert isinstance(result, Withdrawal)


def test_withdrawal_keeps_id_and_time_only_when_usable() -> None:
    [w] = classify(
        "ana", encode({"event_type": "consent", "consent": {"analytics": False}}), LIMITS
    )
    assert w == Withdrawal(None, None)
    data = ev("consent", "ana", 0, analytics=False, event_id="w1")
    [w] = classify("ana", encode(data), LIMITS)
    assert w == Withdrawal("w1", data["occurred_at"])


def test_malformed_withdrawal_erases_in_the_processor() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0))
    h.raw("ana", encode({"event_type": "consent", "consent": {"analytics": False}}))
    assert h.total("tracker_erasures_total", reason="withdrawal") == 1
    assert h.total("tracker_events_rejected_total") == 0


def test_withdrawal_without_usable_key_is_only_dropped() -> None:
    h = Harness()
    h.raw(None, encode(ev("consent", "ana", 0, analytics=False)))
    assert h.counters() == {
        "tracker_events_dropped_total|no_consent": 1,
        "tracker_events_received_total": 1,
    }


def test_valid_single_event_keeps_the_message_bytes() -> None:
    value = encode(ev("page_view", "ana", 0))
    [item] = classify("ana", value, LIMITS)
    assert isinstance(item, Valid)
    assert item.raw() == value
    assert not isinstance(item, NoConsent)


@pytest.mark.internal_error_expected
def test_a_message_the_logic_fails_on_is_counted_and_dead_lettered() -> None:
    h = Harness()
    h.offset += 1
    letter = h.p.fail(b'{"boom": 1}', h.offset, RuntimeError("unexpected"))
    assert letter.reason == "internal_error"
    assert letter.value is None  # whether it was consented was never settled: a digest
    assert letter.sha256 == hashlib.sha256(b'{"boom": 1}').hexdigest()
    assert h.total("tracker_events_rejected_total", reason="internal_error") == 1
    h.send(ev("page_view", "ana", 0))  # the partition goes on
    assert h.total("tracker_events_total") == 1
