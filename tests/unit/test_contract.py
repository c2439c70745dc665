"""Wire contract, schema_version 1 (docs/contract.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from tests.unit.helpers import ev
from tracker.core.contract import (
    CHANNELS,
    EVENT_TYPES,
    ConsentChange,
    Feedback,
    Identify,
    Interaction,
    Order,
    PagePing,
    PageView,
    SupportContact,
    SupportReply,
    SupportResolved,
    WebVital,
    parse_event,
)

MODEL_OF = {
    "page_view": PageView,
    "interaction": Interaction,
    "page_ping": PagePing,
    "order": Order,
    "consent": ConsentChange,
    "feedback": Feedback,
    "identify": Identify,
    "web_vital": WebVital,
    "support_contact": SupportContact,
    "support_reply": SupportReply,
    "support_resolved": SupportResolved,
}


def invalid(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse_event(data)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_event_type_parses_to_its_model(event_type: str) -> None:
    event = parse_event(ev(event_type, "ana", 0))
    assert type(event) is MODEL_OF[event_type]
    assert event.event_type == event_type


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_unknown_field_is_rejected_for_every_type(event_type: str) -> None:
    invalid(ev(event_type, "ana", 0, utm_source="x"))


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_models_are_frozen(event_type: str) -> None:
    event = parse_event(ev(event_type, "ana", 0))
    with pytest.raises(ValidationError):
        event.touchpoint = "cart"  # type: ignore[misc]


@pytest.mark.parametrize(
    "field",
    [
        "schema_version",
        "event_id",
        "event_type",
        "customer_id",
        "occurred_at",
        "channel",
        "touchpoint",
        "consent",
    ],
)
def test_required_common_fields(field: str) -> None:
    invalid(ev("page_view", "ana", 0, **{field: None}))


def test_schema_version_must_be_1() -> None:
    invalid(ev("page_view", "ana", 0, schema_version=2))
    invalid(ev("page_view", "ana", 0, schema_version="1"))


def test_unknown_event_type_is_rejected() -> None:
    invalid(ev("page_view", "ana", 0, event_type="click"))


@pytest.mark.parametrize("channel", CHANNELS)
def test_all_seven_channels_are_valid(channel: str) -> None:
    assert parse_event(ev("page_view", "ana", 0, channel=channel)).channel == channel


@pytest.mark.parametrize("channel", ["Web", "sms", "", "call-center"])
def test_other_channels_are_rejected(channel: str) -> None:
    invalid(ev("page_view", "ana", 0, channel=channel))


@pytest.mark.parametrize(
    "touchpoint", ["home", "store:berlin", "a/b.c_d-e", "x" * 64, "0", "campaign:2026-05"]
)
def test_touchpoint_allowed_characters(touchpoint: str) -> None:
    assert parse_event(ev("page_view", "ana", 0, touchpoint=touchpoint)).touchpoint == touchpoint


@pytest.mark.parametrize(
    "touchpoint", ["", "Home", "home page", "x" * 65, "cart?id=1", "café", "home\n", "a#b"]
)
def test_touchpoint_bad_characters_or_length(touchpoint: str) -> None:
    invalid(ev("page_view", "ana", 0, touchpoint=touchpoint))


def test_event_id_length_bounds() -> None:
    assert parse_event(ev("page_view", "ana", 0, event_id="x" * 64))
    invalid(ev("page_view", "ana", 0, event_id=""))
    invalid(ev("page_view", "ana", 0, event_id="x" * 65))


def test_customer_and_account_id_length_bounds() -> None:
    assert parse_event(ev("page_view", "c" * 128, 0, account_id="a" * 128))
    invalid(ev("page_view", "c" * 129, 0))
    invalid(ev("page_view", "", 0))
    invalid(ev("page_view", "ana", 0, account_id=""))
    invalid(ev("page_view", "ana", 0, account_id="a" * 129))


def test_consent_needs_both_strict_booleans() -> None:
    invalid(ev("page_view", "ana", 0, consent={"analytics": True}))
    invalid(ev("page_view", "ana", 0, consent={"analytics": "true", "marketing": False}))
    invalid(ev("page_view", "ana", 0, consent={"analytics": 1, "marketing": False}))
    invalid(ev("page_view", "ana", 0, consent={"analytics": True, "marketing": False, "x": 1}))


# --- timestamps ----------------------------------------------------------------


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-05-04T09:00:00Z",
        "2026-05-04T09:00:00+02:00",
        "2026-05-04T09:00:00.123456-05:30",
        "2026-05-04t09:00:00z",
    ],
)
def test_rfc3339_with_offset_is_accepted(stamp: str) -> None:
    event = parse_event(ev("page_view", "ana", 0, occurred_at=stamp, sent_at=stamp))
    assert event.occurred_at.utcoffset() is not None


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-05-04T09:00:00",  # no offset
        "2026-05-04",
        "09:00:00Z",
        "yesterday",
        1777885200,  # unix seconds
        1777885200000,  # unix milliseconds
        1777885200.5,
    ],
)
@pytest.mark.parametrize("field", ["occurred_at", "sent_at"])
def test_timestamps_without_offset_or_as_numbers_are_rejected(field: str, stamp: Any) -> None:
    invalid(ev("page_view", "ana", 0, **{field: stamp}))


def test_sent_at_is_optional() -> None:
    assert parse_event(ev("page_view", "ana", 0)).sent_at is None


# --- properties ----------------------------------------------------------------


def test_properties_up_to_2_kib_serialized() -> None:
    # {"k":"..."} is 8 bytes of framing around the value
    assert parse_event(ev("page_view", "ana", 0, properties={"k": "x" * 2040}))
    invalid(ev("page_view", "ana", 0, properties={"k": "x" * 2041}))


def test_properties_must_be_an_object() -> None:
    invalid(ev("page_view", "ana", 0, properties=["a"]))
    invalid(ev("page_view", "ana", 0, properties="a"))


# --- per type ------------------------------------------------------------------


def test_page_view_optional_referrer_and_campaign_limits() -> None:
    assert parse_event(ev("page_view", "ana", 0, referrer="r" * 2048, campaign="c" * 64))
    invalid(ev("page_view", "ana", 0, referrer="r" * 2049))
    invalid(ev("page_view", "ana", 0, campaign="c" * 65))


def test_page_view_does_not_take_fields_of_other_types() -> None:
    invalid(ev("page_view", "ana", 0, action="search"))
    invalid(ev("page_ping", "ana", 0, referrer="https://x"))
    invalid(ev("consent", "ana", 0, nps=9))


def test_interaction_needs_action_of_1_to_64_chars() -> None:
    invalid(ev("interaction", "ana", 0, action=None))
    invalid(ev("interaction", "ana", 0, action=""))
    invalid(ev("interaction", "ana", 0, action="a" * 65))
    assert parse_event(ev("interaction", "ana", 0, action="a" * 64))


@pytest.mark.parametrize(
    ("revenue", "expected"),
    [
        ("19.99", Decimal("19.99")),
        (19.99, Decimal("19.99")),
        (0, Decimal(0)),
        ("0.00", Decimal(0)),
        (1234567.891, Decimal("1234567.891")),
    ],
)
def test_order_revenue_as_number_or_string(revenue: Any, expected: Decimal) -> None:
    event = parse_event(ev("order", "ana", 0, revenue=revenue))
    assert isinstance(event, Order)
    assert event.revenue == expected


@pytest.mark.parametrize("revenue", [-0.01, "-1", "NaN", "Infinity", "ten", None, True])
def test_order_revenue_negative_or_not_a_number_is_rejected(revenue: Any) -> None:
    invalid(ev("order", "ana", 0, revenue=revenue))


@pytest.mark.parametrize("currency", ["eur", "Eur", "EURO", "EU", "", "E1R"])
def test_order_currency_is_three_upper_case_letters(currency: str) -> None:
    invalid(ev("order", "ana", 0, currency=currency))


def test_order_currency_outside_the_label_list_is_still_valid() -> None:
    assert parse_event(ev("order", "ana", 0, currency="JPY"))


def test_order_needs_order_id() -> None:
    invalid(ev("order", "ana", 0, order_id=None))
    invalid(ev("order", "ana", 0, order_id=""))
    invalid(ev("order", "ana", 0, order_id="o" * 65))


def test_consent_event_carries_nothing_else() -> None:
    assert parse_event(ev("consent", "ana", 0, analytics=False)).consent.analytics is False


@pytest.mark.parametrize(
    "answers",
    [
        {"nps": 0},
        {"nps": 10},
        {"csat": 1},
        {"csat": 5},
        {"ces": 1},
        {"ces": 7},
        {"comment": "gut", "language": "de"},
        {"comment": "good", "language": "en"},
        {"nps": 7, "csat": 3, "ces": 2, "comment": "ok", "language": "en"},
    ],
)
def test_feedback_valid_answers(answers: dict[str, Any]) -> None:
    assert isinstance(parse_event(ev("feedback", "ana", 0, **answers)), Feedback)


@pytest.mark.parametrize(
    "answers",
    [
        {"nps": -1},
        {"nps": 11},
        {"nps": 9.0},
        {"nps": "9"},
        {"csat": 0},
        {"csat": 6},
        {"ces": 0},
        {"ces": 8},
        {"comment": "x" * 2001, "language": "en"},
        {"comment": "bonjour", "language": "fr"},
    ],
)
def test_feedback_out_of_range_answers(answers: dict[str, Any]) -> None:
    invalid(ev("feedback", "ana", 0, **answers))


def test_feedback_needs_at_least_one_answer() -> None:
    data = ev("feedback", "ana", 0)
    del data["nps"]
    invalid(data)
    invalid({**data, "language": "en"})  # a language alone is no answer


def test_feedback_comment_needs_language() -> None:
    invalid(ev("feedback", "ana", 0, comment="great"))
    assert parse_event(ev("feedback", "ana", 0, nps=9, language="en"))


@pytest.mark.parametrize("anonymous_id", [None, "", "x" * 129, 42])
def test_identify_needs_an_anonymous_id_of_1_to_128_characters(anonymous_id: Any) -> None:
    invalid(ev("identify", "ana", 0, anonymous_id=anonymous_id))
    assert parse_event(ev("identify", "ana", 0, anonymous_id="d" * 128)).anonymous_id == "d" * 128
