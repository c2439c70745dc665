"""Persisted enumerations keep their codes: rows written today decode the same tomorrow.

``tests/data/persisted_codes.json`` is a pinned copy of every code table in
``tracker.core.codes``. Changing or removing a pinned code fails here, because
changelog rows and account records already hold it; adding a new value with a
new code is fine (then add it to the pinned copy too).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.unit.helpers import DAY, MIN, T0_MS, Harness, config, ev, samples_of
from tracker.core import codes
from tracker.core.accounts import AccountActivity, AccountState
from tracker.core.codes import CHANNEL_CODES, CodeTable
from tracker.core.contract import (
    CHANNELS,
    EVENT_TYPES,
    SUPPORT_CHANNELS,
    VITAL_NAMES,
    VITAL_RATINGS,
)
from tracker.core.customer import (
    CHANNEL_TABLE,
    SOURCES,
    STEP_KINDS,
    CustomerState,
    Session,
    Step,
    decode_state,
    encode_state,
)
from tracker.core.identity_records import FORWARD_KINDS, LINK_OUTCOMES, RECORD_KINDS
from tracker.core.memory_store import MemoryStore
from tracker.metrics.samples import Sample, total

PINNED: dict[str, dict[str, int]] = json.loads(
    (Path(__file__).parents[1] / "data" / "persisted_codes.json").read_text()
)
# Every ``<NAME>_CODES`` table of tracker.core.codes, as "<name>" (CHANNEL_CODES: "channel").
TABLES: dict[str, Mapping[str, int]] = {
    name.removesuffix("_CODES").lower(): table
    for name, table in vars(codes).items()
    if name.endswith("_CODES")
}
# The tuples whose positions the code holds in memory, for the tables that have one.
IN_MEMORY: dict[str, tuple[str, ...]] = {
    "channel": CHANNELS,
    "source": SOURCES,
    "step_kind": STEP_KINDS,
    "event_type": EVENT_TYPES,
    "identity_record": RECORD_KINDS,
    "link_outcome": LINK_OUTCOMES,
    "forward_kind": FORWARD_KINDS,
    "vital_name": VITAL_NAMES,
    "vital_rating": VITAL_RATINGS,
    "support_channel": SUPPORT_CHANNELS,
}


def test_every_code_table_has_a_pinned_copy() -> None:
    assert {"channel", "source", "step_kind"} <= set(TABLES)
    unpinned = sorted(set(TABLES) - set(PINNED))
    assert unpinned == [], "add these tables to tests/data/persisted_codes.json"


@pytest.mark.parametrize("table", sorted(PINNED))
def test_pinned_codes_are_never_changed_or_removed(table: str) -> None:
    assert table in TABLES, "a code table that rows already use was removed"
    codes_now = TABLES[table]
    changed = {name: (code, codes_now.get(name)) for name, code in PINNED[table].items()}
    assert {k: v for k, v in changed.items() if v[0] != v[1]} == {}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_value_has_one_code_of_its_own(table: str) -> None:
    codes_now = TABLES[table]
    assert set(IN_MEMORY.get(table, ())) <= set(codes_now), "a value in use has no code"
    assert len(set(codes_now.values())) == len(codes_now), "two values share a code"
    assert all(isinstance(code, int) and code >= 0 for code in codes_now.values())


def test_a_reordered_tuple_still_writes_and_reads_the_same_codes() -> None:
    """What CodeTable is for: CHANNELS reordered for display must not move stored codes."""
    shuffled = CodeTable("channel", reversed(CHANNELS), CHANNEL_CODES)
    store = shuffled.names.index("store")
    assert shuffled.to_code[store] == CHANNEL_CODES["store"]
    assert shuffled.from_code[CHANNEL_CODES["store"]] == store
    bits = 1 << shuffled.names.index("web") | 1 << store
    coded = shuffled.bits_to_codes(bits)
    assert coded == 1 << CHANNEL_CODES["web"] | 1 << CHANNEL_CODES["store"]
    assert shuffled.bits_from_codes(coded) == bits


def test_an_unknown_code_is_named_not_guessed() -> None:
    with pytest.raises(ValueError, match="unknown channel code 99"):
        CHANNEL_TABLE.position(99)
    with pytest.raises(ValueError, match="unknown channel code 9"):
        AccountActivity.from_json(["acct", "person", T0_MS, 9, False, False])
    with pytest.raises(ValueError, match="without a stable code"):
        CodeTable("channel", [*CHANNELS, "fax"], CHANNEL_CODES)


def test_account_records_carry_channel_codes() -> None:
    store = CHANNELS.index("store")
    record = AccountActivity("acct", "person", T0_MS, store).to_json()
    assert record[3] == CHANNEL_CODES["store"]
    assert AccountActivity.from_json(record).channel == store
    state = AccountState(channels=1 << store)
    assert state.encode()[4] == 1 << CHANNEL_CODES["store"]
    assert AccountState.decode(state.encode()) == state


# --------------------------------------------------------------------------- touchpoints

ORDER = ["home", "product", "cart", "checkout"]


def _journey(samples: list[Sample]) -> dict[str, float]:
    wanted = ("tracker_journey_transitions_total", "tracker_session_exits_total")
    return {
        name + str(sorted(labels)): value
        for name, labels, value in samples
        if name in wanted and value
    }


def _open_session(touchpoints: list[str]) -> Harness:
    h = Harness(touchpoints=touchpoints)
    for i, touchpoint in enumerate(("home", "product", "cart")):
        h.send(ev("page_view", "ana", i * MIN, touchpoint=touchpoint))
    h.p.flush()
    return h


def _restart(h: Harness, touchpoints: list[str]) -> list[Sample]:
    """Restore h's changelog under another allow-list, then let the open session close."""
    cfg = config(touchpoints=touchpoints)
    restarted = cfg.processor(0, MemoryStore.replay(h.store.log))
    restarted.recover(h.wall_ms)
    quiet = h.wall_ms + 400 * DAY * 1000
    restarted.tick(quiet)
    restarted.flush()
    return samples_of({0: restarted}, cfg, quiet)


def test_open_journey_survives_a_reordered_touchpoint_allow_list() -> None:
    h = _open_session(ORDER)
    reordered = _restart(h, list(reversed(ORDER)))
    h.close_all()
    assert _journey(reordered) == _journey(h.samples())
    transitions = "tracker_journey_transitions_total"
    assert total(reordered, transitions, from_touchpoint="home", to_touchpoint="product") == 1
    assert total(reordered, transitions, from_touchpoint="product", to_touchpoint="cart") == 1
    assert total(reordered, "tracker_session_exits_total", touchpoint="cart") == 1


def test_a_touchpoint_dropped_from_the_allow_list_restores_as_other() -> None:
    h = _open_session(ORDER)
    narrowed = _restart(h, ["checkout", "home", "product"])
    assert total(narrowed, "tracker_session_exits_total", touchpoint="other") == 1
    assert total(narrowed, "tracker_journey_transitions_total", to_touchpoint="other") == 1


def test_encoded_state_decodes_the_same_under_another_touchpoint_order() -> None:
    first = (*ORDER, "other")
    second = ("checkout", "other", "cart", "home", "product")
    steps = [
        Step(T0_MS, first.index("cart"), CHANNELS.index("app"), STEP_KINDS.index("page_view")),
        Step(T0_MS + 1, first.index("home"), CHANNELS.index("web"), STEP_KINDS.index("order")),
        Step(T0_MS + 2, first.index("cart"), CHANNELS.index("store"), STEP_KINDS.index("feedback")),
    ]
    session = Session(T0_MS, T0_MS + 2, CHANNELS.index("app"), channels=0b1011, steps=steps)
    state = CustomerState(session=session, last_seen_by_channel={CHANNELS.index("email"): T0_MS})
    restored = decode_state(encode_state(state, first), second)
    assert restored.session is not None
    assert [second[s.touchpoint] for s in restored.session.steps] == ["cart", "home", "cart"]
    assert [(s.at_ms, s.channel, s.kind) for s in restored.session.steps] == [
        (s.at_ms, s.channel, s.kind) for s in steps
    ]
    restored.session.steps = steps
    assert restored == state


def test_rows_written_before_the_touchpoint_table_decode_as_before() -> None:
    """A session row of nine fields: touchpoints were positions in that day's allow-list."""
    touchpoints = ("home", "product", "cart", "other")
    old_row = [
        [T0_MS, T0_MS + 60_000, 1, 2, 0, 0, 3, [[T0_MS, 0, 1, 0], [T0_MS + 60_000, 7, 0, 0]], 2],
        T0_MS + 60_000,
        [[1, T0_MS], [0, T0_MS + 60_000]],
        [],
        [42, T0_MS],
        -1,
        None,
    ]
    state = decode_state(old_row, touchpoints)
    assert state.session is not None
    assert [touchpoints[s.touchpoint] for s in state.session.steps] == ["home", "other"]
    assert [CHANNELS[s.channel] for s in state.session.steps] == ["app", "web"]
    assert SOURCES[state.session.source] == "referral"
    assert state.session.channels == 0b11
    assert state.last_seen_by_channel == {CHANNELS.index("app"): T0_MS, 0: T0_MS + 60_000}
    assert state.seen_ids == {42: T0_MS}
