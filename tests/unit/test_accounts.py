"""B2B account KPIs: reach, people per account, conversion, channels before the first order."""

from __future__ import annotations

from datetime import datetime

import orjson

from tests.unit.helpers import DAY, HOUR, MIN, T0_MS, config, ev, ms
from tracker.core.accounts import (
    AccountActivity,
    AccountProcessor,
    AccountState,
    apply_activity,
    pack,
    unpack,
)
from tracker.core.aggregates import Delta
from tracker.core.memory_store import MemoryStore
from tracker.core.timestamps import to_ms
from tracker.kafka.partitioner import partition_for
from tracker.metrics.samples import total
from tracker.testing.reference import ReferencePipeline

ACME, GLOBEX = "acct-acme", "acct-globex"


def _pipeline() -> ReferencePipeline:
    return ReferencePipeline(config(), partitions=4)


def _feed(pipe: ReferencePipeline, *events: dict[str, object]) -> None:
    for event in events:
        customer = str(event["customer_id"])
        at = to_ms(datetime.fromisoformat(str(event["occurred_at"])))
        pipe.feed(customer.encode(), orjson.dumps(event), at, at)


def test_account_reach_people_and_conversion_across_partitions() -> None:
    pipe = _pipeline()
    people = [f"person-{i}" for i in range(5)]  # several people, spread over partitions
    _feed(
        pipe,
        *(ev("page_view", p, i * MIN, account_id=ACME) for i, p in enumerate(people[:3])),
        *(ev("page_view", p, 10 * MIN, account_id=GLOBEX) for p in people[3:]),
        ev("order", people[1], 20 * MIN, account_id=ACME, channel="store", touchpoint="store"),
        ev("page_view", "solo", 21 * MIN),  # no account: not an account at all
    )
    assert len({partition_for(p.encode(), 4) for p in people[:3]}) > 1, "spread over partitions"
    s = pipe.samples()
    assert total(s, "tracker_account_reach", window="1h") == 2
    assert total(s, "tracker_account_converted_window", window="1h") == 1
    assert total(s, "tracker_account_conversion_rate", window="1h") == 0.5
    assert total(s, "tracker_accounts_by_people", window="1h", people_le="2") == 1  # Globex: 2
    assert total(s, "tracker_accounts_by_people", window="1h", people_le="3") == 2  # Acme: 3
    # Acme touched web (its page views) and store (the order) up to its first order.
    assert total(s, "tracker_account_first_order_channels_total", channels="2") == 1


def test_repeated_activity_is_idempotent() -> None:
    state, delta = AccountState(), Delta()
    activity = AccountActivity(ACME, "p1", T0_MS, 0, order=True)
    apply_activity(state, activity, delta)
    once = (Delta.to_json(delta), state.encode())
    apply_activity(state, activity, delta)
    assert state.encode() == once[1]
    assert delta.counters == {"tracker_account_first_order_channels_total|1": 1}


def test_erased_person_leaves_the_account_but_the_account_stays_active() -> None:
    pipe = _pipeline()
    _feed(
        pipe,
        ev("page_view", "p1", 0, account_id=ACME),
        ev("page_view", "p2", MIN, account_id=ACME),
    )
    withdrawal = ev("consent", "p1", 2 * MIN, consent={"analytics": False, "marketing": False})
    _feed(pipe, withdrawal)
    s = pipe.samples()
    assert total(s, "tracker_account_reach", window="1h") == 1
    assert total(s, "tracker_accounts_by_people", window="1h", people_le="1") == 1


def test_accounts_leave_windows_and_expire() -> None:
    pipe = _pipeline()
    _feed(pipe, ev("page_view", "p1", 0, account_id=ACME))
    pipe.tick(ms(40 * DAY))
    pipe.tick(ms(41 * DAY))
    s = pipe.samples()
    assert total(s, "tracker_account_reach", window="28d") == 0
    rows = [k for store in pipe.account_stores.values() for k in store.rows if "/acct/" in k]
    assert rows == [], "an account outside every window is deleted"


def test_account_processor_recovers_and_skips_applied_offsets() -> None:
    store = MemoryStore()
    first = AccountProcessor(0, store)
    for offset, person in enumerate(("p1", "p2", "p3")):
        activity = AccountActivity(ACME, person, T0_MS + offset * HOUR, 1, order=person == "p3")
        first.process(activity.to_bytes(), offset, T0_MS)
    first.flush()
    second = AccountProcessor(0, MemoryStore.replay(store.log))
    second.recover(T0_MS)
    again = AccountActivity(ACME, "p3", T0_MS + 2 * HOUR, 1, order=True)
    second.process(again.to_bytes(), 2, T0_MS)  # a replayed message: skipped
    assert second.aggregates.counters == first.aggregates.counters
    assert second.aggregates.hists["acct:reach"].hours == first.aggregates.hists["acct:reach"].hours


def test_invalid_internal_record_is_counted_not_fatal() -> None:
    processor = AccountProcessor(0, MemoryStore())
    processor.process(b"not json", 0, T0_MS)
    assert processor.aggregates.counters == {"tracker_account_activity_invalid_total": 1}


def test_pack_sends_one_record_per_account_in_the_order_things_happened() -> None:
    a1 = AccountActivity(ACME, "p1", T0_MS, 1)
    g1 = AccountActivity(GLOBEX, "p1", T0_MS + 1, 1)
    a2 = AccountActivity(ACME, "p1", T0_MS + 2, 1, order=True)
    a3 = AccountActivity(ACME, "p1", T0_MS + 3, 0, erase=True)
    records = pack([a1, g1, a2, a3])
    assert [account for account, _ in records] == [ACME, GLOBEX]
    assert unpack(records[0][1]) == [a1, a2, a3]
    assert unpack(records[1][1]) == [g1]
    assert pack([]) == []


def test_unpack_reads_single_activity_records_of_earlier_versions() -> None:
    old = AccountActivity(ACME, "p1", T0_MS, 2, order=True)
    assert unpack(old.to_bytes()) == [old]


def test_a_packed_record_counts_like_its_activities_one_by_one() -> None:
    batch = [
        AccountActivity(ACME, "p1", T0_MS, 1),
        AccountActivity(ACME, "p2", T0_MS + MIN, 2),
        AccountActivity(ACME, "p1", T0_MS + 2 * MIN, 3, order=True),
        AccountActivity(ACME, "p2", T0_MS + 3 * MIN, 0, erase=True),
        AccountActivity(ACME, "p3", T0_MS + 4 * MIN, 1, order=True),
    ]
    packed, single = AccountProcessor(0, MemoryStore()), AccountProcessor(0, MemoryStore())
    ((_, record),) = pack(batch)
    packed.process(record, 0, T0_MS)
    for offset, activity in enumerate(batch):
        single.process(activity.to_bytes(), offset, T0_MS)
    packed.flush()
    single.flush()
    assert packed.aggregates.counters == single.aggregates.counters
    assert packed.aggregates.hists.keys() == single.aggregates.hists.keys()
    for name, hist in packed.aggregates.hists.items():
        assert hist.hours == single.aggregates.hists[name].hours, name
    key = f"0/acct/{ACME}"
    assert (
        orjson.loads(packed.store.get(key) or b"")["s"]
        == orjson.loads(single.store.get(key) or b"")["s"]
    )


def test_a_packed_record_with_one_bad_item_is_counted_and_applies_nothing() -> None:
    good = AccountActivity(ACME, "p1", T0_MS, 1).to_json()
    processor = AccountProcessor(0, MemoryStore())
    for offset, raw in enumerate(
        (orjson.dumps([good, ["too", "short"]]), orjson.dumps([]), orjson.dumps({"a": 1}))
    ):
        processor.process(raw, offset, T0_MS)
    assert processor.aggregates.counters == {"tracker_account_activity_invalid_total": 3}
    assert processor.store.get(f"0/acct/{ACME}") is None
