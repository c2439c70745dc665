"""Decoding and validating a request body: what is accepted, dropped, rejected."""

from __future__ import annotations

import orjson
import pytest

from tests.unit.helpers import ev
from tracker.collector.errors import BadBatchError
from tracker.collector.intake import decode, validate


def test_groups_keep_each_customers_order() -> None:
    events = [ev("page_view", "a", 0), ev("page_view", "b", 1), ev("order", "a", 2)]
    intake = validate(events)
    assert intake.accepted == 3
    messages = intake.messages()
    assert [(m.key, m.events) for m in messages] == [(b"a", 2), (b"b", 1)]
    assert orjson.loads(messages[0].value) == [events[0], events[2]]


def test_errors_name_the_field_not_the_union_branch() -> None:
    bad = {**ev("order", "a", 0), "revenue": -1, "event_id": "x" * 80}
    intake = validate([bad])
    [rejected] = intake.rejected
    fields = {e["field"] for e in rejected.errors}
    assert fields == {"revenue", "event_id"}
    assert rejected.event_id == "x" * 64, "echoed ids are capped like valid ones"
    claims_consent = {"consent": {"analytics": True}}  # but no event at all
    assert validate([claims_consent]).rejected[0].errors[0]["field"] == "event"


def test_no_consent_dropped_and_withdrawals_kept() -> None:
    intake = validate(
        [
            ev("interaction", "a", 0, analytics=False),
            ev("consent", "a", 1, analytics=False),
            {"event_type": "consent", "customer_id": "", "consent": {"analytics": False}},
        ]
    )
    # A withdrawal without a usable customer is a refusal all the same: nothing to store.
    assert (intake.no_consent, intake.accepted, len(intake.rejected)) == (2, 1, 0)


UNREADABLE_CONSENT = [None, {}, {"marketing": True}, {"analytics": None}, {"analytics": "true"}]


@pytest.mark.parametrize("consent", UNREADABLE_CONSENT)
def test_missing_null_empty_or_malformed_consent_is_dropped_not_rejected(consent: object) -> None:
    malformed = ev("page_view", "anna@example.com", 0, consent=consent, channel="fax")
    items = [
        ev("page_view", "a", 0, consent=consent),
        {**ev("page_view", "a", 1), "consent": None},
        malformed,
        "text",
        [ev("page_view", "a", 2)],
    ]
    intake = validate(items)
    assert (intake.no_consent, intake.accepted, intake.rejected) == (5, 0, [])
    assert intake.messages() == []


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{", 400, "invalid_json"),
        (b"[]", 400, "invalid_json"),
        (b"42", 400, "invalid_json"),
        (orjson.dumps([{}] * 4), 413, "too_many_events"),
    ],
)
def test_undecodable_bodies(body: bytes, status: int, error: str) -> None:
    with pytest.raises(BadBatchError) as caught:
        decode(body, max_events=3)
    assert (caught.value.status, caught.value.error) == (status, error)
