"""How a benchmark drain reads a worker's progress: by partition, or summed over them."""

from __future__ import annotations

from typing import cast

from bench.expect import Expectation, PartitionTrack
from bench.procs import Drain, Proc, tracker_reader, whole_stream_reader


class _Worker:
    """Answers ``/metrics`` with progress counters by partition."""

    def __init__(self) -> None:
        self.progress: dict[int, int] = {}
        self.lag: dict[int, int] = {}

    def get(self, path: str) -> tuple[int, bytes]:
        assert path == "/metrics"
        lines = [f'tracker_events_total{{partition="{p}"}} {n}' for p, n in self.progress.items()]
        lines += [f'tracker_consumer_lag{{partition="{p}"}} {n}' for p, n in self.lag.items()]
        return 200, "\n".join(lines).encode()


def _expectation() -> Expectation:
    # Partition 0: messages of 1 event each; partition 1: two messages of 2 events.
    tracks = {
        0: PartitionTrack([1, 2, 3], [1, 2, 3], [0, 1, 2]),
        1: PartitionTrack([2, 4], [2, 4], [3, 4]),
    }
    return Expectation(tracks, {}, total_events=7, total_messages=5, pure_seconds=0.0)


def test_the_whole_stream_is_done_when_the_sums_agree_wherever_they_were_counted() -> None:
    worker = _Worker()
    procs = cast(list[Proc], [worker])
    by_partition, whole = tracker_reader(_expectation()), whole_stream_reader(_expectation())
    worker.progress = {0: 4, 1: 2}  # one event of partition 1 counted on partition 0
    assert whole(procs, Drain()) == (6, False)
    worker.progress = {0: 4, 1: 3}
    assert whole(procs, Drain()) == (7, True)
    assert by_partition(procs, Drain())[1] is False  # partition 1 never reaches 4
    worker.progress = {0: 3, 1: 4}
    assert by_partition(procs, Drain()) == (7, True)
    assert whole(procs, Drain()) == (7, True)


def test_a_stream_read_to_its_end_is_done_though_a_few_counts_are_missing() -> None:
    """A sum that falls short (an event counted late) ends the drain once every partition
    is read to its end, so the counter check reports it instead of the drain stalling."""
    worker = _Worker()
    procs = cast(list[Proc], [worker])
    whole = whole_stream_reader(_expectation())
    worker.progress, worker.lag = {0: 3, 1: 3}, {0: 0}
    assert whole(procs, Drain()) == (6, False)  # partition 1's lag not known yet
    worker.lag = {0: 0, 1: 1}
    assert whole(procs, Drain()) == (6, False)
    worker.lag = {0: 0, 1: 0}
    assert whole(procs, Drain()) == (6, True)
