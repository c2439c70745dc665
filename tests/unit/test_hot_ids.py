"""Hot identifiers: one customer id sending all day cannot grow its row or slow its partition.

The de-duplication memory keeps exact hashes of the last ``DEDUP_IDS`` ids (no
structure that could drop a real event), the row stays within 16 KiB, customers that
hit the cap are counted, and a full journey is not decoded for every event.
"""

from __future__ import annotations

import random

import orjson

from tests.unit.helpers import HOUR, MIN, SEC, Harness, ev, ms
from tracker.core.accounts import MAX_ACCOUNTS_PER_PERSON
from tracker.core.aggregates import Delta
from tracker.core.customer import (
    MAX_STEPS,
    CustomerState,
    Session,
    Step,
    decode_state,
    encode_state,
)
from tracker.core.dedup import (
    DEDUP_IDS,
    PACK_ABOVE,
    ROW_BOUND_BYTES,
    forget_oldest,
    pack_ids,
    unpack_ids,
)
from tracker.core.rows import row_parts
from tracker.core.steps import LazySteps
from tracker.settings import Settings

KIOSK = "kiosk-berlin-01"


def _row_size(h: Harness, customer: str) -> int:
    return len(h.store.get(h.p.customer_key(h.p.pseudonyms.of(customer))) or b"")


def test_the_largest_possible_row_stays_within_the_bound() -> None:
    """Every part at its bound: a full journey over every default touchpoint, every
    channel, two orders, the most accounts, the dead-letter count, a full memory."""
    touchpoints = (*Settings().touchpoints, "other")
    far = 10**13 - 1  # 13-digit times, the widest until the year 2286
    session = Session(
        far,
        far,
        6,
        10**6,
        10**6,
        10**6,
        (1 << 7) - 1,
        [Step(far, i % len(touchpoints), i % 7, i % 4) for i in range(MAX_STEPS)],
        3,
    )
    rng = random.Random(1)
    state = CustomerState(
        session=session,
        last_seen_ms=far,
        last_seen_by_channel=dict.fromkeys(range(7), far),
        order_times=[far, far],
        seen_ids={rng.getrandbits(64) | 1 << 63: far - i for i in range(DEDUP_IDS)},
        accounts={f"{'A' * 21}{i:x}": far for i in range(MAX_ACCOUNTS_PER_PERSON)},
        letters=10**12,
        last_letter_ms=far,
        capped_at_ms=far,
    )
    size = len(row_parts(state, 2**62, 2**40, Delta(), touchpoints)[0])
    assert size <= ROW_BOUND_BYTES, size


def test_a_customer_sending_all_day_keeps_a_bounded_row_and_is_counted_once() -> None:
    h = Harness()
    sizes = []
    for i in range(1_500):
        h.send(ev("page_view", KIOSK, i * 20 * SEC, event_id=f"k{i}", touchpoint="product"))
        if i % 100 == 99:
            sizes.append(_row_size(h, KIOSK))
    state = h.state(KIOSK)
    assert state is not None and len(state.seen_ids) == DEDUP_IDS
    assert max(sizes) <= ROW_BOUND_BYTES
    # Once the journey is full (512 steps) and the memory too, the row stops growing.
    assert max(sizes) - min(sizes[6:]) < 100
    assert h.total("tracker_hot_customers_total") == 1  # 1,500 events within 24 hours
    assert h.total("tracker_events_total") == 1_500  # a full memory never drops a new event


def test_a_hot_customer_is_counted_again_only_in_a_later_window() -> None:
    h = Harness()
    for day in range(2):
        for i in range(DEDUP_IDS + 5):
            h.send(ev("page_ping", KIOSK, day * 25 * HOUR + i * SEC, event_id=f"d{day}-{i}"))
    assert h.total("tracker_hot_customers_total") == 2


def test_retries_within_the_last_ids_are_duplicates_and_earlier_ones_are_forgotten() -> None:
    h = Harness()
    events = [ev("page_view", KIOSK, i * SEC, event_id=f"r{i}") for i in range(DEDUP_IDS + 10)]
    h.send(*events)
    h.send(events[-DEDUP_IDS])  # the oldest id still remembered
    assert h.total("tracker_events_dropped_total", reason="duplicate") == 1
    h.send(events[0])  # arrived DEDUP_IDS + 9 events ago: forgotten, counts again
    assert h.total("tracker_events_dropped_total", reason="duplicate") == 1
    assert h.total("tracker_hot_customers_total") == 1


def test_forgetting_drops_every_id_beyond_the_cap_in_one_call() -> None:
    # A merge of two full memories leaves up to twice the cap; all the excess goes at once.
    seen = {hashed: 1_000 + hashed for hashed in range(2 * DEDUP_IDS)}
    assert forget_oldest(seen, horizon_ms=0) is True  # the dropped ids were in the window
    assert list(seen) == list(range(DEDUP_IDS, 2 * DEDUP_IDS))  # the last to arrive stay
    assert forget_oldest(seen, horizon_ms=0) is False  # nothing beyond the cap: nothing goes


def test_a_customer_below_the_cap_keeps_the_whole_window() -> None:
    h = Harness()
    events = [ev("page_view", "ana", i * 10 * MIN, event_id=f"a{i}") for i in range(DEDUP_IDS)]
    h.send(*events)
    h.send(events[0])  # resent after 127 others, 21 hours on: still remembered
    assert h.total("tracker_events_dropped_total", reason="duplicate") == 1
    assert h.total("tracker_hot_customers_total") == 0


def test_packed_ids_read_back_exactly_in_arrival_order() -> None:
    rng = random.Random(7)
    for n in (0, 1, PACK_ABOVE, PACK_ABOVE + 1, DEDUP_IDS):
        seen = {rng.getrandbits(64): ms(0) - rng.randrange(86_400_000) for _ in range(n)}
        packed = pack_ids(seen)
        assert isinstance(packed, list) == (n <= PACK_ABOVE)
        back = unpack_ids(orjson.loads(orjson.dumps(packed)))
        assert list(back.items()) == list(seen.items())


def test_ids_further_apart_than_the_packed_form_holds_read_back_all_the_same() -> None:
    """A row must decode to the memory it was written from: rows are lent decoded too."""
    seen = {i: ms(0) - i * 3_600_000 for i in range(PACK_ABOVE + 9)}
    seen[999] = ms(0) - 60 * 86_400_000  # an identify's id of two months ago
    back = unpack_ids(orjson.loads(orjson.dumps(pack_ids(seen))))
    assert list(back.items()) == list(seen.items())


def test_rows_written_before_packing_still_read() -> None:
    assert unpack_ids([42, ms(0), 7, ms(1)]) == {42: ms(0), 7: ms(1)}


def test_a_full_journey_is_written_back_without_being_decoded() -> None:
    h = Harness()
    for i in range(MAX_STEPS + 50):
        h.send(ev("page_view", KIOSK, i * SEC, touchpoint=("home", "cart")[i % 2]))
    row = h.p.load_row(h.p.customer_key(h.p.pseudonyms.of(KIOSK)))
    assert row is not None and row.state is not None and row.state.session is not None
    steps = row.state.session.steps
    assert isinstance(steps, LazySteps) and steps.raw() is not None
    assert len(steps) == MAX_STEPS and steps.raw() is not None  # len() decodes nothing
    assert [s.touchpoint for s in steps[:2]] == [0, 5]  # home, cart: decoded on use
    assert steps.raw() is None
    h.close_all()
    assert h.total("tracker_session_exits_total", touchpoint="cart") == 1


def test_lazy_steps_behave_like_the_list_they_stand_for() -> None:
    touchpoints = Settings().touchpoints
    state = CustomerState(
        session=Session(ms(0), ms(9), 0, steps=[Step(ms(i), i % 3, 0, 0) for i in range(5)])
    )
    decoded = decode_state(
        orjson.loads(orjson.dumps(encode_state(state, touchpoints))), touchpoints
    )
    assert decoded == state
    again = decode_state(orjson.loads(orjson.dumps(encode_state(state, touchpoints))), touchpoints)
    assert again.session is not None
    again.session.steps.append(Step(ms(20), 1, 0, 0))
    assert len(again.session.steps) == 6 and again.session.steps[-1].at_ms == ms(20)
    assert state.session is not None
    assert [*again.session.steps] == [*state.session.steps, Step(ms(20), 1, 0, 0)]
