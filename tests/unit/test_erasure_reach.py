"""Erasure reaches what a customer's row points to: every account, every dead letter.

PRIVACY.md#erasure: a withdrawal or ``tracker erase`` forgets the person in every B2B
account they acted for (not only the latest), and tombstones every DLQ record keyed by
their pseudonym, also when the worker crashed before the tombstones were sent.
"""

from __future__ import annotations

from datetime import datetime

import orjson

from tests.unit.helpers import MIN, Harness, config, encode, ev, ms
from tracker.core.accounts import MAX_ACCOUNTS_PER_PERSON
from tracker.core.letters import LETTER_SLOTS, customer_letter_keys, owner_of
from tracker.core.timestamps import to_ms
from tracker.kafka.partitioner import partition_for
from tracker.metrics.samples import total
from tracker.testing.reference import ReferencePipeline

ANNA = "anna@example.com"


def _feed(pipe: ReferencePipeline, *events: dict[str, object]) -> None:
    for event in events:
        at = to_ms(datetime.fromisoformat(str(event["occurred_at"])))
        pipe.feed(str(event["customer_id"]).encode(), orjson.dumps(event), at, at)


def _people(pipe: ReferencePipeline) -> dict[str, int]:
    """Account pseudonym -> people it counts, over every account partition."""
    found: dict[str, int] = {}
    for store in pipe.account_stores.values():
        for key, raw in store.rows.items():
            body = orjson.loads(raw)
            if "/acct/" in key and body.get("s") is not None:
                found[key.rsplit("/", 1)[1]] = len(body["s"][0])
    return found


def _withdraw(customer: str, at: float) -> dict[str, object]:
    return ev("consent", customer, at, consent={"analytics": False, "marketing": False})


def test_a_withdrawal_forgets_the_person_in_every_account_they_acted_for() -> None:
    pipe = ReferencePipeline(config(), partitions=4)
    _feed(
        pipe,
        ev("page_view", ANNA, 0, account_id="acme"),
        ev("page_view", ANNA, MIN, account_id="globex"),  # the latest account
        ev("page_view", "bo", 2 * MIN, account_id="acme"),
    )
    assert sorted(_people(pipe).values()) == [1, 2]
    _feed(pipe, _withdraw(ANNA, 3 * MIN))
    assert sorted(_people(pipe).values()) == [0, 1]  # acme keeps bo only; globex nobody
    s = pipe.samples()
    assert total(s, "tracker_accounts_by_people", window="1h", people_le="1") == 1


def _erase(pipe: ReferencePipeline, customer: str, at_ms: int) -> None:
    """``tracker erase``: a control record through the customer's own partition."""
    partition = partition_for(customer.encode(), pipe.partitions)
    pipe._offsets[partition] += 1
    processor = pipe.processors[partition]
    offset = pipe._offsets[partition]
    processor.process(customer.encode(), b"{}", offset, at_ms, at_ms, control="erase")
    pipe._route_activities(processor, at_ms)


def test_an_erase_request_forgets_the_person_in_every_account() -> None:
    pipe = ReferencePipeline(config(), partitions=4)
    _feed(pipe, *(ev("page_view", ANNA, i * MIN, account_id=f"a{i}") for i in range(3)))
    _erase(pipe, ANNA, ms(5 * MIN))
    assert list(_people(pipe).values()) == [0, 0, 0]


def test_a_person_in_more_accounts_than_the_row_keeps_leaves_the_oldest() -> None:
    pipe = ReferencePipeline(config(), partitions=2)
    n = MAX_ACCOUNTS_PER_PERSON + 1
    _feed(pipe, *(ev("page_view", ANNA, i * MIN, account_id=f"a{i}") for i in range(n)))
    assert sorted(_people(pipe).values()) == [0] + [1] * (n - 1)
    _feed(pipe, _withdraw(ANNA, n * MIN))
    assert set(_people(pipe).values()) == {0}


# --- dead letters -----------------------------------------------------------------------


def _letters_of(h: Harness, customer: str) -> list[str]:
    return [x.key for x in h.letters if owner_of(x.key) == h.p.pseudonyms.of(customer)]


def test_letters_are_keyed_by_the_pseudonym_never_the_raw_id() -> None:
    h = Harness()
    h.raw(ANNA, b"{not json")
    h.send(ev("page_view", ANNA, 0, channel="fax"))
    keys = [x.key for x in h.letters]
    assert keys == customer_letter_keys(h.p.pseudonyms.of(ANNA), 2)
    assert all(ANNA not in k for k in keys)
    state = h.state(ANNA)
    assert state is not None and state.letters == 2


def test_letters_of_a_message_without_a_usable_key_belong_to_nobody() -> None:
    h = Harness()
    h.raw(None, encode([ev("page_view", ANNA, 0), ev("page_view", ANNA, 1)]))
    assert [owner_of(x.key) for x in h.letters] == [None, None]
    assert len({x.key for x in h.letters}) == 2


def test_a_customer_keeps_at_most_the_slots_and_the_next_letter_takes_the_oldest() -> None:
    h = Harness()
    for _ in range(LETTER_SLOTS + 3):
        h.raw(ANNA, b"[")
    keys = [x.key for x in h.letters]
    assert len(set(keys)) == LETTER_SLOTS
    assert keys[LETTER_SLOTS] == keys[0]


def test_an_erasure_tombstones_every_letter_of_the_customer() -> None:
    h = Harness()
    h.raw(ANNA, b"[")
    h.send(ev("page_view", ANNA, 0, channel="fax"))
    h.send(ev("page_view", "bo", 0, channel="fax"))
    h.send(_withdraw(ANNA, MIN))
    assert h.p.erased_letters == _letters_of(h, ANNA)
    h.p.erased_letters.clear()
    h.offset += 1
    h.p.process(ANNA.encode(), b"{}", h.offset, h.wall_ms, h.wall_ms, control="erase")
    assert h.p.erased_letters == _letters_of(h, ANNA)  # again: tombstones are idempotent


def test_a_redelivered_erasure_sends_the_tombstones_again() -> None:
    h = Harness()
    h.raw(ANNA, b"[")
    h.send(_withdraw(ANNA, MIN))
    h.p.erased_letters.clear()  # lost with the producer's buffer in a crash
    withdrawal_offset = h.offset
    h.p.process(ANNA.encode(), encode(_withdraw(ANNA, MIN)), withdrawal_offset, 0, 0)
    assert h.p.erased_letters == _letters_of(h, ANNA)


def test_nothing_of_a_withdrawn_customer_reaches_the_dlq() -> None:
    h = Harness()
    h.send(_withdraw(ANNA, 0))
    h.raw(ANNA, b"{broken")
    h.send(ev("page_view", ANNA, MIN, channel="fax"))
    assert h.letters == []
    assert h.total("tracker_events_dropped_total", reason="no_consent") == 2
    assert h.total("tracker_events_rejected_total") == 0


def test_a_row_kept_only_for_its_letters_expires_with_the_dlq_retention() -> None:
    h = Harness()
    h.raw(ANNA, b"[")
    assert h.state(ANNA) is not None
    h.send(ev("page_view", "bo", 0))
    h.close_all()
    assert h.state(ANNA) is None
