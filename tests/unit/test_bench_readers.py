"""How a benchmark drain reads a worker's progress: by partition, or summed over them."""

from __future__ import annotations

from typing import cast
from urllib.parse import parse_qs, urlsplit

from bench.expect import Expectation, PartitionTrack
from bench.procs import (
    FEW_READINGS,
    FULL_SCRAPE_EVERY,
    Drain,
    Observation,
    Proc,
    tracker_reader,
    whole_stream_reader,
)
from bench.throughput import coarse_note


class _Worker:
    """Answers ``/metrics`` (``name[]``: only those) with progress counters by partition."""

    def __init__(self) -> None:
        self.progress: dict[int, int] = {}
        self.lag: dict[int, int] = {}
        self.paths: list[str] = []

    def get(self, path: str) -> tuple[int, bytes]:
        self.paths.append(path)
        url = urlsplit(path)
        assert url.path == "/metrics"
        names = parse_qs(url.query).get("name[]")
        lines = [f'tracker_events_total{{partition="{p}"}} {n}' for p, n in self.progress.items()]
        lines += [f'tracker_consumer_lag{{partition="{p}"}} {n}' for p, n in self.lag.items()]
        lines += ['tracker_sessions_open{partition="0"} 9']  # what progress never reads
        if names is not None:
            lines = [line for line in lines if line.split("{")[0] in names]
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


def test_progress_is_polled_by_name_with_a_whole_timed_scrape_every_so_often() -> None:
    """The measured worker builds only the progress counters between whole scrapes, as a
    poller that took its whole /metrics four times a second would cost it ~10% of a core."""
    worker = _Worker()
    procs = cast(list[Proc], [worker])
    read, drain = whole_stream_reader(_expectation()), Drain()
    worker.progress, worker.lag = {0: 3, 1: 3}, {0: 0, 1: 1}
    for _ in range(2 * FULL_SCRAPE_EVERY + 1):
        assert read(procs, drain) == (6, False)
    whole = [i for i, path in enumerate(worker.paths) if path == "/metrics"]
    assert whole == [0, FULL_SCRAPE_EVERY, 2 * FULL_SCRAPE_EVERY] and len(drain.scrape_ms) == 3
    assert all("tracker_events_total" in path for path in worker.paths[1:3])
    worker.lag = {0: 0, 1: 0}  # the lag is a gauge, built only for a whole scrape
    assert read(procs, drain) == (6, False)
    while len(worker.paths) % FULL_SCRAPE_EVERY:
        read(procs, drain)
    assert read(procs, drain) == (6, True)
    by_partition, drain = tracker_reader(_expectation()), Drain()
    worker.progress = {0: 3, 1: 4}
    assert [by_partition(procs, drain) for _ in range(3)] == [(7, True)] * 3
    assert worker.paths[-1].startswith("/metrics?name")


def test_a_rate_measured_over_few_readings_says_it_is_coarse() -> None:
    # Events applied at each 0.1 s reading: a drain of 1,000 events in 30 readings.
    slow = Drain([Observation(i / 10, min(1_000, 40 * i), i / 20, 0.0) for i in range(30)])
    assert slow.readings(1_000) >= FEW_READINGS
    assert abs(slow.rate(1_000) - 400) < 1  # 40 events a reading, 10 readings a second
    assert coarse_note("row", slow.readings(1_000)) == []
    # The same events over three readings: the window is all there is, and says so.
    fast = Drain([Observation(0.0, 0, 0.0, 0.0), *(Observation(t, e, t, 0.0) for t, e in _FEW)])
    assert fast.readings(1_000) == 3
    expected = "no-op, 100 events: coarse, only 3 progress readings in the measured window"
    assert coarse_note("no-op, 100 events", 3) == [expected]


_FEW = ((0.5, 100), (1.0, 900), (1.5, 1_000))


def test_a_drain_read_from_its_second_half_measures_only_that_half() -> None:
    # 100 events a reading for the first 1,000, then 50: the state that slows a worker.
    events = [min(i, 10) * 100 + max(0, i - 10) * 50 for i in range(31)]
    run = Drain([Observation(i / 10, e, i / 10, 0.0) for i, e in enumerate(events)])
    assert 500 < run.rate(2_000) < 1_000  # 5% to 95%: both parts
    run.since = 0.5
    assert abs(run.rate(2_000) - 500) < 1  # from 1,000 events on: the slower part alone
    assert abs(run.cores_busy(2_000) - 1.0) < 1e-9
