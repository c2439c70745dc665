"""Messages Faust dropped around a rebalance are fetched again, never skipped (stream.holes).

The guard is pure, tested here against a model of Kafka, aiokafka and Faust's buffers;
the worker's wiring of it is in test_offset_holes_pipeline.py.
"""

from __future__ import annotations

from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.stream.holes import AfterSeek, HoleGuard, Verdict


def test_in_order_and_redelivered_offsets_apply() -> None:
    guard = HoleGuard()
    assert guard.admit("input", 0, 5, applied=4) is Verdict.APPLY
    assert guard.admit("input", 0, 2, applied=5) is Verdict.APPLY  # skipped by the processor


def test_a_hole_is_refilled_from_its_first_missing_offset() -> None:
    guard = HoleGuard()
    # The paused-worker case: 316 applied, the stream hands over 994 first.
    assert guard.admit("input", 3, 994, applied=316) is Verdict.SEEK
    # Fetched before the seek: refused, no second seek.
    assert guard.admit("input", 3, 995, applied=316) is Verdict.WAIT
    assert guard.admit("input", 3, 996, applied=316) is Verdict.WAIT
    # Fetched again from the sought offset: in order.
    assert guard.admit("input", 3, 317, applied=316) is Verdict.APPLY
    assert guard.admit("input", 3, 318, applied=317) is Verdict.APPLY
    assert guard.refilling == {}


def test_a_hole_kafka_really_has_is_accepted_once_the_refetch_starts_beyond_it() -> None:
    guard = HoleGuard()
    # 41 is a transaction marker (or deleted by retention): the refetch starts at 42.
    assert guard.admit("input", 0, 42, applied=40) is Verdict.SEEK
    # Fetched before the seek: nothing came back from the seek yet.
    assert guard.admit("input", 0, 43, 40, AfterSeek(41, None)) is Verdict.WAIT
    assert guard.admit("input", 0, 42, 40, AfterSeek(41, None)) is Verdict.WAIT
    # The consumer's first record from 41 on is 42: Kafka has nothing between.
    assert guard.admit("input", 0, 43, 40, AfterSeek(41, 42)) is Verdict.WAIT
    assert guard.admit("input", 0, 42, 40, AfterSeek(41, 42)) is Verdict.APPLY
    assert guard.admit("input", 0, 43, applied=42) is Verdict.APPLY
    assert guard.refilling == {}


def test_a_record_fetched_before_the_seek_never_closes_the_hole() -> None:
    """RELIABILITY.md, bug 9, as measured on Kafka (scenario 4, partition 1).

    1293 applied; 1303 handed first and refused; then 1298, from a fetch Faust made
    before the seek. Taken for the refetch's start, it skipped 1294-1297 for good.
    """
    guard = HoleGuard()
    assert guard.admit("input", 1, 1303, applied=1293) is Verdict.SEEK
    assert guard.admit("input", 1, 1298, 1293, AfterSeek(1294, None)) is Verdict.WAIT
    # Even once the refetch came back: it started at 1294, so 1298 is not its start.
    assert guard.admit("input", 1, 1298, 1293, AfterSeek(1294, 1294)) is Verdict.WAIT
    assert guard.admit("input", 1, 1294, 1293, AfterSeek(1294, 1294)) is Verdict.APPLY
    # And without the consumer's record, a gap is never taken for a hole Kafka has.
    assert guard.admit("input", 2, 9, applied=3) is Verdict.SEEK
    assert guard.admit("input", 2, 5, applied=3) is Verdict.WAIT


def test_a_refetch_faust_dropped_after_kafka_returned_it_is_sought_again() -> None:
    """Faust clears its streams' queues when it resumes the flow after a rebalance,
    records aiokafka returned from the seek included (measured: four partitions stood
    still for 5 s after `Worker ready`, until the next rebalance)."""
    guard = HoleGuard()
    assert guard.admit("input", 3, 1093, 819, now_s=100.0) is Verdict.SEEK
    back = AfterSeek(820, 820, back_s=100.5)  # returned by aiokafka; cleared before the agent
    assert guard.admit("input", 3, 1094, 819, back, now_s=102.4) is Verdict.WAIT
    assert guard.admit("input", 3, 1095, 819, back, now_s=102.5) is Verdict.SEEK_AGAIN
    # Sought again: patient twice as long, and only once the refetch is back again.
    assert guard.admit("input", 3, 1096, 819, AfterSeek(820, None), now_s=103.0) is Verdict.WAIT
    again = AfterSeek(820, 820, back_s=103.5)
    assert guard.admit("input", 3, 1097, 819, again, now_s=107.4) is Verdict.WAIT
    assert guard.admit("input", 3, 1098, 819, again, now_s=107.5) is Verdict.SEEK_AGAIN
    assert guard.patience_s("input", 3) == 8.0
    assert guard.admit("input", 3, 820, 819, again, now_s=108.0) is Verdict.APPLY
    assert guard.refilling == {}
    assert guard.patience_s("input", 3) == 0.0


def test_the_patience_counts_from_the_refetchs_return_not_from_the_seek() -> None:
    """Records queued before the refetch still come first: a refetch that took long to
    come back from Kafka is not taken for lost by the time it returns."""
    guard = HoleGuard()
    assert guard.admit("input", 0, 50, 40, now_s=10.0) is Verdict.SEEK
    assert guard.admit("input", 0, 51, 40, AfterSeek(41, None), now_s=14.0) is Verdict.WAIT
    late = AfterSeek(41, 41, back_s=14.0)  # back 4 s after the seek
    assert guard.admit("input", 0, 52, 40, late, now_s=15.9) is Verdict.WAIT
    assert guard.admit("input", 0, 41, 40, late, now_s=16.0) is Verdict.APPLY


def test_the_stall_check_keeps_the_patience_of_the_refill_it_seeks_again() -> None:
    """Each seek again doubles the wait, up to the stall interval; a stall check that
    seeks the same refill does not start it over at 2 s."""
    guard = HoleGuard()
    assert guard.admit("input", 0, 9, 4, now_s=0.0) is Verdict.SEEK
    for n, now_s in enumerate((3.0, 8.0, 17.0, 34.0, 51.0)):
        back = AfterSeek(5, 5, back_s=now_s - 16.0)
        assert guard.admit("input", 0, 9, 4, back, now_s) is Verdict.SEEK_AGAIN
        assert guard.patience_s("input", 0) == min(2.0 * 2 ** (n + 1), 15.0)
    assert not guard.stalled("input", 0, 4, end=10, now_s=60.0, after_s=15.0)
    assert guard.stalled("input", 0, 4, end=10, now_s=75.0, after_s=15.0)
    assert guard.patience_s("input", 0) == 15.0
    # A new hole starts afresh.
    assert guard.admit("input", 0, 9, 6, now_s=80.0) is Verdict.SEEK
    assert guard.patience_s("input", 0) == 2.0


def test_a_refill_sought_elsewhere_by_faust_is_sought_back_again() -> None:
    guard = HoleGuard()
    assert guard.admit("input", 0, 1092, applied=816) is Verdict.SEEK
    # Faust then sought the partition to its committed offset, past the hole.
    assert guard.admit("input", 0, 1092, 816, AfterSeek(1092, 1092)) is Verdict.SEEK
    assert guard.admit("input", 0, 1093, 816, AfterSeek(817, None)) is Verdict.WAIT
    # A reset to the log's start or end is not a refetch of the hole either.
    assert guard.admit("input", 0, 1093, 816, AfterSeek(-1, 1000)) is Verdict.SEEK


def test_a_backlog_standing_still_is_sought_back_once_per_interval() -> None:
    guard = HoleGuard()
    # Offsets up to 9 exist, 7 is applied: the stream dropped 8 and 9 and has nothing after.
    assert not guard.stalled("input", 0, 7, end=10, now_s=0.0, after_s=15.0)
    assert not guard.stalled("input", 0, 7, end=10, now_s=14.0, after_s=15.0)
    assert guard.stalled("input", 0, 7, end=10, now_s=15.0, after_s=15.0)
    assert not guard.stalled("input", 0, 7, end=10, now_s=16.0, after_s=15.0)
    # The refetch may start beyond the sought offset (8 deleted by retention): accepted.
    assert guard.admit("input", 0, 9, 7, AfterSeek(8, None)) is Verdict.WAIT
    assert guard.admit("input", 0, 9, 7, AfterSeek(8, 9)) is Verdict.APPLY
    # Progress, or nothing left to fetch, is never a stall.
    assert not guard.stalled("input", 0, 9, end=10, now_s=100.0, after_s=15.0)
    assert not guard.stalled("input", 1, 3, end=None, now_s=100.0, after_s=15.0)


def test_streams_and_partitions_are_guarded_apart_and_forgotten_on_revocation() -> None:
    guard = HoleGuard()
    assert guard.admit("input", 1, 9, applied=3) is Verdict.SEEK
    assert guard.admit("identity", 1, 0, applied=-1) is Verdict.APPLY
    assert guard.admit("input", 2, 0, applied=-1) is Verdict.APPLY
    guard.forget(1)
    assert guard.refilling == {}
    assert guard.admit("input", 1, 9, applied=3) is Verdict.SEEK  # the new owner seeks again


class BufferingConsumer:
    """Kafka, aiokafka and Faust's buffers, as the guard meets them.

    A fetch reads from the position into Faust's buffer; a seek moves the position
    but leaves the buffer alone, so records fetched before it are handed over after it
    (from wherever the partition stood then). The stream drops some records once
    (faust#221). ``trail`` is what ``faust_patches.SeekTrail`` records.
    """

    def __init__(self, held: list[int], lost: set[int]) -> None:
        self.held, self.dropped_once = held, set(lost)
        self.position, self.buffer = 0, deque[int]()
        self.trail: AfterSeek | None = None

    def seek(self, offset: int) -> None:
        self.position, self.trail = offset, AfterSeek(offset, None)

    def fetch(self, most: int, now_s: float) -> bool:
        fetched = [offset for offset in self.held if offset >= self.position][:most]
        if fetched:
            self.position = fetched[-1] + 1
            self.buffer.extend(fetched)
            if self.trail is not None and self.trail.first is None:
                self.trail = AfterSeek(self.trail.sought, fetched[0], now_s)
        return bool(fetched)

    def reassign(self, committed: int) -> None:
        """A rebalance gives the partition back: aiokafka resets the position to the
        committed offset without a seek, and the trail's entry no longer counts."""
        self.position = committed
        if self.trail is not None:
            self.trail = AfterSeek(-1, self.trail.first)

    def clear(self) -> None:
        """Faust resumes its flow after a rebalance: its queues are cleared."""
        self.buffer.clear()

    def hand(self) -> int | None:
        """The next buffered record the stream hands over, None if it dropped it."""
        offset = self.buffer.popleft()
        if offset in self.dropped_once:
            self.dropped_once.discard(offset)
            return None
        return offset


@settings(max_examples=300, deadline=None)
@given(
    log=st.lists(st.booleans(), min_size=1, max_size=60),  # does Kafka hold a record there?
    lost=st.sets(st.integers(0, 59), max_size=20),  # what the stream drops the first time
    data=st.data(),
)
def test_every_record_kafka_holds_is_applied_once_in_order(
    log: list[bool], lost: set[int], data: st.DataObject
) -> None:
    """Fetches, hand-overs, Faust's own seeks, rebalances (to any offset, as its
    committed offset can be) and the clearing of its queues when its flow resumes
    interleave at random; then the stream runs dry."""
    held = [offset for offset, present in enumerate(log) if present]
    consumer, guard = BufferingConsumer(held, lost), HoleGuard()
    applied, seen = -1, []

    now_s = 0.0

    def hand() -> None:
        nonlocal applied
        offset = consumer.hand()
        if offset is None:
            return
        verdict = guard.admit("input", 0, offset, applied, consumer.trail, now_s)
        if verdict is Verdict.APPLY and offset > applied:
            applied = offset
            seen.append(offset)
        elif verdict in (Verdict.SEEK, Verdict.SEEK_AGAIN):
            consumer.seek(applied + 1)

    actions = st.sampled_from(
        ["fetch", "hand", "hand", "hand", "faust seeks", "rebalance", "flow resumes"]
    )
    for _ in range(data.draw(st.integers(0, 150))):
        now_s += 0.5
        action = data.draw(actions)
        if action == "fetch":
            consumer.fetch(data.draw(st.integers(1, 8)), now_s)
        elif action == "faust seeks":
            consumer.seek(data.draw(st.integers(0, len(log))))
        elif action == "rebalance":  # the same worker keeps it, its state as it was
            guard.forget(0)
            consumer.reassign(data.draw(st.integers(0, len(log))))
        elif action == "flow resumes":
            consumer.clear()
        elif consumer.buffer:
            hand()
    for _ in range(4 * len(log) + 10):  # no more seeks but the worker's own
        now_s += 1.0
        if not consumer.fetch(8, now_s) and not consumer.buffer:
            if guard.stalled("input", 0, applied, len(log), now_s, 3.0):
                consumer.seek(applied + 1)
            continue
        while consumer.buffer:
            hand()
    assert seen == held
