"""What ``tracker dlq`` makes of the letters it read: counts, masked samples, redrive plans."""

from __future__ import annotations

import orjson

from tests.unit.helpers import HOUR, Harness, encode, ev, ms
from tracker.core.letters import DeadLetter
from tracker.privacy.dead_letters import (
    MASK,
    LetterRecord,
    belongs_to,
    counts,
    mask,
    plan_event,
    sample,
    select,
)

ANNA = "anna@example.com"


def _record(letter: DeadLetter, written_ms: int, offset: int = 0) -> LetterRecord:
    """The letter as the DLQ holds it (what the worker's send_letter writes)."""
    headers = {name: value.decode() for name, value in letter.headers("events")}
    return LetterRecord(letter.key, 0, offset, written_ms, letter.payload("events"), headers)


def _letters() -> tuple[Harness, list[LetterRecord]]:
    h = Harness()
    h.raw(ANNA, b"{not json", wall_ms=ms(0))
    bad = ev("order", ANNA, 0, revenue="-1", order_id="ORD-77", account_id="acme")
    h.raw(ANNA, encode(bad), wall_ms=ms(HOUR))
    h.raw("bo", encode(ev("page_view", ANNA, 60)), wall_ms=ms(HOUR))  # key_mismatch
    records = [_record(x, ms(i * HOUR), i) for i, x in enumerate(h.letters)]
    return h, records


def test_counts_by_reason_and_by_hour() -> None:
    _h, records = _letters()
    found = counts(records)
    assert found["letters"] == 3
    assert found["by_reason"] == {"invalid_event": 1, "invalid_json": 1, "key_mismatch": 1}
    assert found["by_time"] == {
        "2026-05-04T09:00Z": {"invalid_json": 1},
        "2026-05-04T10:00Z": {"invalid_event": 1},
        "2026-05-04T11:00Z": {"key_mismatch": 1},
    }


def test_a_sample_masks_raw_ids_unless_asked_and_a_digest_has_no_bytes() -> None:
    _h, records = _letters()
    digest, event, _ = (sample(r) for r in records)
    assert digest["digest"]["size"] == len(b"{not json") and "event" not in digest
    assert event["event"]["customer_id"] == MASK and event["event"]["order_id"] == MASK
    assert ANNA not in orjson.dumps([sample(r) for r in records]).decode()
    assert sample(records[1], show_raw=True)["event"]["customer_id"] == ANNA
    assert mask({"x": ["write to bo@example.org"]}) == {"x": [f"write to {MASK}"]}


def test_select_by_reason_and_time() -> None:
    _h, records = _letters()
    assert [r.reason for r in select(records, ("invalid_json",))] == ["invalid_json"]
    assert len(select(records, since_ms=ms(HOUR), until_ms=ms(2 * HOUR))) == 1


def test_a_person_s_letters_by_key_and_by_content() -> None:
    h, records = _letters()
    anna = h.p.pseudonyms.of(ANNA)
    assert [belongs_to(r, anna, ANNA) for r in records] == [True, True, True]
    assert [belongs_to(r, h.p.pseudonyms.of("bo"), "bo") for r in records] == [
        False,
        False,
        True,  # keyed by bo's message
    ]
    assert not belongs_to(records[0], "", ANNA), "a digest names nobody by content"


def test_a_redrive_sends_an_event_keyed_by_its_customer_at_its_original_time() -> None:
    _h, records = _letters()
    plan = plan_event(records[2])
    assert plan.key == ANNA.encode() and plan.value == records[2].value
    assert plan.timestamp_ms == ms(HOUR)  # the rejected record's broker timestamp
    nameless = LetterRecord("~/0/1/0", 0, 9, 0, b'{"event_type": "page_view"}', {})
    assert plan_event(nameless).skipped
