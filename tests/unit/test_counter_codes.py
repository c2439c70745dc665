"""Counter names are stored as short codes; rows of every release read back the same."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.helpers import MIN, Harness, config, ev
from tracker.core import counter_codes
from tracker.core.aggregates import Aggregates, Delta
from tracker.core.codes import COUNTER_NAME_CODES
from tracker.core.counter_codes import SEP, decode_counters, encode_counters, short
from tracker.core.memory_store import MemoryStore
from tracker.testing.reference import ReferencePipeline
from tracker.testing.streams import generated_messages

NAMES = sorted(COUNTER_NAME_CODES)
LABEL = st.text(st.characters(codec="utf-8"), max_size=12)


@st.composite
def counter_keys(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(NAMES) | st.from_regex(r"tracker_[a-z_]{1,30}", fullmatch=True))
    return SEP.join([name, *draw(st.lists(LABEL, max_size=3))])


def test_listed_names_are_stored_as_their_code_and_labels_stay() -> None:
    stored = encode_counters(
        {"tracker_events_total|page_view|web": 3, "tracker_events_received_total": 2}
    )
    assert stored == {"1|page_view|web": 3, "0": 2}
    assert decode_counters(stored) == {
        "tracker_events_total|page_view|web": 3,
        "tracker_events_received_total": 2,
    }


def test_codes_are_short_and_never_a_metric_name() -> None:
    shorts = {short(code) for code in COUNTER_NAME_CODES.values()}
    assert len(shorts) == len(COUNTER_NAME_CODES)
    assert all(len(code) <= 2 and not code.startswith("tracker_") for code in shorts)
    assert short(61) == "Z" and short(62) == "00" and short(62 + 62 * 62 - 1) == "ZZ"


@given(st.dictionaries(counter_keys(), st.integers(-(2**63), 2**63 - 1), max_size=20))
def test_encoding_reads_back_every_counter(counters: dict[str, int]) -> None:
    assert decode_counters(encode_counters(counters)) == counters


def test_rows_of_releases_before_codes_read_as_they_were() -> None:
    old = {"c": {"tracker_events_total|page_view|web": 4}, "r": {}, "b": [], "x": 5}
    assert Delta.from_json(old).counters == {"tracker_events_total|page_view|web": 4}
    counter_row = {"c": {"tracker_orders_total|web": 7}, "r": {"EUR": "1.5"}}
    aggregates = Aggregates()
    aggregates.load_row("c", orjson.dumps({**counter_row, "x": 1, "i": 0, "o": 3, "e": 2}))
    assert aggregates.counters == {"tracker_orders_total|web": 7}


def test_codes_kept_by_an_earlier_release_add_up_with_its_full_names() -> None:
    """A rollback: the earlier release restored coded rows and counted on under full names."""
    mixed = {"1|page_view|web": 4, "tracker_events_total|page_view|web": 2}
    assert decode_counters(mixed) == {"tracker_events_total|page_view|web": 6}
    assert encode_counters(mixed) == {"1|page_view|web": 6}


def test_a_restart_restores_coded_rows_to_the_same_counters() -> None:
    h = Harness()
    for i, kind in enumerate(("page_view", "interaction", "order")):
        h.send(ev(kind, "ana", i * MIN))
    h.p.flush()
    h.send(ev("page_view", "bo", 3 * MIN))  # a row of the open epoch carries its delta
    assert not any(b"tracker_" in (value or b"") for _, value in h.store.log)
    restarted = config().processor(0, MemoryStore.replay(h.store.log))
    restarted.recover(h.wall_ms)
    assert restarted.aggregates.counters == h.p.aggregates.counters


def test_every_counter_the_pipeline_writes_has_a_code() -> None:
    """A metric added without a code would store its full name in every row again."""
    pipeline = ReferencePipeline(config(), partitions=2)
    messages = generated_messages(seed=3, events=3_000)
    for message in messages:
        pipeline.feed(message.key, message.value, message.timestamp_ms, message.timestamp_ms)
    pipeline.tick(messages[-1].timestamp_ms + 400 * 86_400_000)
    counters = {k for p in pipeline.processors.values() for k in p.aggregates.counters}
    assert len(counters) > 100
    assert {k.split(SEP, 1)[0] for k in counters} - set(COUNTER_NAME_CODES) == set()


def test_the_memo_of_translated_keys_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(counter_codes, "MEMO_KEYS", 10)
    monkeypatch.setattr(counter_codes, "_coded", {})
    many = {f"tracker_events_total|{i}": i for i in range(50)}
    assert decode_counters(encode_counters(many)) == many
    assert len(counter_codes._coded) == 10
