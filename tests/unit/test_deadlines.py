"""The index of session ends answers "what is due now?" exactly, whatever moved before."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.core.deadlines import MINUTE_MS, DeadlineIndex

KEYS = [f"0/c/{i}" for i in range(6)]

# A step: move a key's end (None: its session closed otherwise), or advance the watermark.
steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("move"),
            st.sampled_from(KEYS),
            st.one_of(st.none(), st.integers(0, 10 * MINUTE_MS)),
        ),
        st.tuples(st.just("due"), st.integers(0, 3 * MINUTE_MS), st.none()),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_due_matches_the_plain_rule(program: list[tuple[str, object, object]]) -> None:
    index, plain = DeadlineIndex(), dict[str, int]()
    watermark = 0
    for op, a, b in program:
        if op == "move":
            key, after = str(a), b if b is None else int(str(b))
            index.move(key, plain.get(key), after)
            if after is None:
                plain.pop(key, None)
            else:
                plain[key] = after
        else:
            watermark += int(str(a))  # the watermark never goes back
            expected = {k for k, end in plain.items() if end <= watermark}
            assert set(index.due(watermark)) == expected
            for key in expected:
                del plain[key]
        assert dict(index) == plain
        assert len(index) == len(plain)


def test_an_extended_session_is_not_due_at_its_old_end() -> None:
    index = DeadlineIndex()
    index.move("k", None, 10_000)
    assert index.due(5_000) == []  # the minute is now open: the key sits in the heap
    index.move("k", 10_000, 90_000)  # a new event moved the end on
    assert index.due(20_000) == []
    assert index.due(90_000) == ["k"]
    assert index.due(10**9) == []


def test_due_returns_keys_in_order_of_their_end() -> None:
    index = DeadlineIndex()
    for key, end in (("c", 3 * MINUTE_MS), ("a", MINUTE_MS + 5), ("b", MINUTE_MS + 7)):
        index.move(key, None, end)
    assert index.due(3 * MINUTE_MS) == ["a", "b", "c"]


def test_stale_heap_entries_do_not_pile_up() -> None:
    index = DeadlineIndex()
    index.due(0)
    for step in range(10_000):  # one session, extended ten thousand times in the open minute
        index.move("k", step if step else None, step + 1)
    index.due(1)
    assert len(index) == 1
    assert len(index._near_heap) <= 64
