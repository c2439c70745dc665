"""msgspec's structs vouch only for events pydantic accepts, with pydantic's very values.

``fast_events.vouch`` is the hot path's decoder; pydantic stays the contract's judge. Two
properties hold it to that: whatever it vouches for, pydantic accepts with the same value
and type in every field; and a plain event (every type but ``order``, timestamps in the
plain form) is vouched for, so the fast path is not silently dead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.support.attacks import at_an_edge, broken, encode, nested, of_bytes, valid_events
from tracker.core.bounds import MAX_SEND_DELAY_MS, PROPERTIES_MAX_BYTES, PROPERTIES_MAX_DEPTH
from tracker.core.contract import Consent, parse_event
from tracker.core.events import EventView
from tracker.core.fast_events import STRUCTS, Feedback, PageView, plain_timestamp, vouch
from tracker.core.ingest import Limits, Reject, classify
from tracker.core.labels import LabelSets
from tracker.core.timestamps import SURE_YEARS, to_ms

BASE: dict[str, Any] = {
    "schema_version": 1,
    "event_id": "e1",
    "customer_id": "c1",
    "occurred_at": "2026-05-04T09:00:00.250Z",
    "channel": "web",
    "touchpoint": "web:/checkout",
    "consent": {"analytics": True, "marketing": True},
}
PLAIN: dict[str, dict[str, Any]] = {
    "page_view": {"referrer": "https://example.org/", "campaign": None},
    "interaction": {"action": "click"},
    "page_ping": {},
    "consent": {},
    "feedback": {"nps": 9, "comment": "schnell", "language": "de"},
    "identify": {"anonymous_id": "anon-7"},
    "web_vital": {"name": "LCP", "value": 2400, "rating": "good"},
    "support_contact": {"ticket_id": "t1", "support_channel": "chat"},
    "support_reply": {"ticket_id": "t1", "support_channel": "email"},
    "support_resolved": {"ticket_id": "t1", "support_channel": "phone"},
}
# Forms the contract takes that only pydantic reads (fast_events' docstring says why).
UNUSUAL_TIMES = (
    "2026-05-04t09:00:00Z",
    "2026-05-04 09:00:00Z",
    "2026-05-04T09:00:00z",
    "2026-05-04T09:00:00.1234567Z",
    "2026-05-04T09:00:00.999999999+02:00",
    "1970-01-01T00:30:00+01:00",
    "9999-12-31T23:59:59Z",
)
# Values each decoder could read its own way: the properties below try them all.
TRICKY: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    1,
    1.0,
    -1,
    2400.5,
    10**30,
    "",
    "x",
    "x\n",
    "web:/a\n",
    "ab-c\n",
    "EUR\n",
    "2026-05-04T09:00:00Z\n",
    "2026-05-04T09:00:00-00:00",
    "2026-05-04T09:00:00+23:59",
    "2026-05-04T24:00:00Z",
    "2026-05-04T23:59:60Z",
    "2026-02-30T09:00:00Z",
    "2026-05-04T09:00:00",
    *UNUSUAL_TIMES,
    [],
    {},
    {"analytics": True, "marketing": 1},
    {"analytics": True, "marketing": False, "extra": True},
)


def assert_same(fast: Any, model: Any) -> None:
    """Every field of the model, as the struct holds it: equal, and of the same type."""
    assert fast.event_type == model.event_type
    for name in type(model).model_fields:
        mine, theirs = getattr(fast, name), getattr(model, name)
        if isinstance(theirs, datetime):
            assert isinstance(mine, datetime), name
            assert to_ms(mine) == to_ms(theirs), name
            assert (mine.microsecond, mine.utcoffset()) == (theirs.microsecond, theirs.utcoffset())
        elif isinstance(theirs, Consent):
            assert (mine.analytics, mine.marketing) == (theirs.analytics, theirs.marketing)
        else:
            assert mine == theirs, name
            assert type(mine) is type(theirs), name


# The view's attributes, in either form of the core (a compiled class has no __slots__).
SLOTS: tuple[str, ...] = getattr(EventView, "__slots__", None) or EventView.__mypyc_attrs__  # type: ignore[attr-defined]


def plain(kind: str, **changes: Any) -> dict[str, Any]:
    return {**BASE, "event_type": kind, **PLAIN[kind], **changes}


@pytest.mark.parametrize("kind", sorted(PLAIN))
def test_a_plain_event_of_every_common_type_is_vouched_for(kind: str) -> None:
    item = plain(kind, sent_at="2026-05-04T09:00:01+02:00", properties={"p": [1, {"q": None}]})
    fast = vouch(item)
    assert fast is not None and type(fast) is STRUCTS[kind]
    assert_same(fast, parse_event(item))


def test_the_views_built_from_either_decoder_are_the_same() -> None:
    labels = LabelSets.build(["web:/checkout"], ["click"], ["EUR"], ["web:/checkout"])
    for kind in sorted(PLAIN):
        item = plain(kind)
        fast = vouch(item)
        assert fast is not None
        ticket = 7 if kind.startswith("support") else None
        mine = EventView.build(fast, 1_777_900_000_000, labels, "acct", ticket)
        theirs = EventView.build(parse_event(item), 1_777_900_000_000, labels, "acct", ticket)
        for slot in SLOTS:
            assert getattr(mine, slot) == getattr(theirs, slot), (kind, slot)


@pytest.mark.parametrize(
    "item",
    [
        {**BASE, "event_type": "order", "order_id": "o1", "revenue": 12.5, "currency": "EUR"},
        *(plain("page_view", occurred_at=t) for t in UNUSUAL_TIMES),
        plain("page_view", sent_at="2026-05-04T09:00:00Z\n"),
        plain("page_view", experiment="exp-1"),  # its variant missing: pydantic's error
        plain("page_view", experiment=None),
        plain("feedback", nps=None, comment=None),
        plain("feedback", language=None),
        plain("interaction", touchpoint="web:/a\n"),
        plain("page_view", sent_at="2027-05-05T09:00:00Z"),  # a send delay near the bound
        plain("web_vital", value=True),
        plain("feedback", nps=9.0),
        plain("page_view", schema_version=True),
        plain("page_view", properties=nested(PROPERTIES_MAX_DEPTH + 1)),
        plain("page_view", properties=of_bytes(PROPERTIES_MAX_BYTES + 1)),
        [plain("page_view")],
        "page_view",
        {**plain("page_view"), "event_type": ["page_view"]},
    ],
)
def test_what_only_pydantic_reads_is_left_to_it(item: Any) -> None:
    assert vouch(item) is None


def test_the_send_delay_near_its_bound_is_pydantics_to_judge() -> None:
    at = 1_777_900_000_000
    near = MAX_SEND_DELAY_MS - 1000
    assert vouch(plain("page_ping", occurred_at=_z(at), sent_at=_z(at + near))) is not None
    assert vouch(plain("page_ping", occurred_at=_z(at), sent_at=_z(at + near + 1))) is None


def _z(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@st.composite
def candidates(draw: st.DrawFn) -> dict[str, Any]:
    """Valid events, events at an edge, one thing broken, or one field set to a tricky value,
    as ``classify`` hands them over: sent as a client would and read back by orjson."""
    item = dict(draw(valid_events()))
    role = draw(st.sampled_from(("valid", "edge", "broken", "tricky")))
    if role == "edge":
        item = draw(at_an_edge(item))
    elif role == "broken":
        item = draw(broken(item))[0]
    elif role == "tricky":
        name = draw(st.sampled_from([*sorted(item), "sent_at", "experiment", "surprise"]))
        item = {**item, name: draw(st.sampled_from(TRICKY))}
    try:
        read: dict[str, Any] = orjson.loads(encode(item))
    except orjson.JSONDecodeError:  # a lone surrogate: the whole message is invalid_json
        assume(False)
    return read


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(candidates())
def test_whatever_is_vouched_for_pydantic_accepts_with_the_same_values(item: Any) -> None:
    fast = vouch(item)
    try:
        model = parse_event(item)
    except ValidationError:
        assert fast is None, item
        return
    if fast is not None:
        assert_same(fast, model)
    elif (
        type(model).__name__ != "Order"
        and _plain_times(item)
        and type(item["schema_version"]) is int  # pydantic also reads 1.0 as 1
    ):
        # pydantic took it, its timestamps are plain, and it is no order: the fast path
        # declines only a send delay within a second of the bound.
        assert model.sent_at is not None
        assert abs(to_ms(model.sent_at) - to_ms(model.occurred_at)) > MAX_SEND_DELAY_MS - 1000


def _plain_times(item: dict[str, Any]) -> bool:
    sent = item.get("sent_at")
    return plain_timestamp(item["occurred_at"]) and (sent is None or plain_timestamp(sent))


def test_a_feedback_struct_keeps_the_contracts_two_rules() -> None:
    assert isinstance(vouch(plain("feedback", nps=None, csat=3, comment=None)), Feedback)
    assert vouch(plain("feedback", comment="ok", language=None)) is None
    assert isinstance(vouch(plain("page_view", campaign="spring")), PageView)


def test_the_plain_forms_years_are_the_contracts_sure_years() -> None:
    """The years written into the pattern are exactly ``timestamps.SURE_YEARS``."""
    low, high = (int(year) for year in SURE_YEARS)
    for year in range(10_000):
        stamp = f"{year:04d}-01-01T00:00:00Z"
        assert plain_timestamp(stamp) is (low <= year <= high), stamp


def test_a_lone_surrogate_never_reaches_vouch() -> None:
    """msgspec would take one in a free-text field, pydantic would not; orjson refuses it
    first, so ``classify`` rejects the message as ``invalid_json`` before ``vouch`` runs."""
    event = {**plain("page_view"), "event_id": "e1\ud800"}
    value = encode(event)  # as a client would send it: the standard library's escape
    items = classify("c1", value, Limits())
    assert [type(i).__name__ for i in items] == ["Reject"]
    assert isinstance(items[0], Reject) and items[0].reason == "invalid_json"


def test_a_schema_version_of_1_0_is_left_to_pydantic() -> None:
    item = plain("page_view", schema_version=1.0)
    assert vouch(item) is None
    assert parse_event(item).schema_version == 1
