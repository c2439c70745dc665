"""The soak's growth attribution: what the state holds, minute by minute of event time."""

from __future__ import annotations

import itertools
import tracemalloc

import pytest

from bench.soak_growth import (
    Checkpoint,
    growing_lines,
    main,
    middle_index,
    report,
    run,
    second_half,
)


def test_checkpoints_follow_event_time_and_split_rows_by_kind() -> None:
    points = list(run(minutes=1.5, rate=60.0, every=0.5, trace=True))
    assert [round(p.minute, 1) for p in points] == [0.5, 1.0, 1.5]
    assert all(a.events < b.events for a, b in itertools.pairwise(points))
    last = points[-1]
    assert (
        0 < last.customer_rows <= 2 * last.population and last.customer_bytes > 0
    )  # people, devices
    # One minute row per partition and hour of event time, growing with each minute.
    assert 0 < last.minute_rows <= 8
    assert points[0].minute_bytes < last.minute_bytes
    assert points[0].histogram_minutes < last.histogram_minutes
    assert last.memory_bytes > 0
    assert report(points).count("\n| ") == len(points)  # a row per checkpoint


def test_second_half_attributes_growth_and_projects_the_minute_horizon() -> None:
    mib = 2**20
    middle = Checkpoint(30, 1, 50, 100, 10 * mib, 8, 30 * 1024, 0, 1_000, 100 * mib)
    last = Checkpoint(60, 2, 50, 100, 11 * mib, 8, 60 * 1024, 0, 2_000, 105 * mib)
    text = second_half([middle, last])
    assert "RSS grew +5.0 MiB (+5.0%)" in text
    assert "customer rows +1.0 MiB" in text
    # 30 KiB over 30 minutes: 1 KiB a minute; 3,000 minutes in 50 hours.
    assert "~1 KiB more per minute" in text
    assert "~3 MiB of rows and 100,000 entries" in text


def test_a_traced_replay_names_the_lines_whose_memory_grew() -> None:
    snapshots: list[tracemalloc.Snapshot] = []
    points = list(run(minutes=1.0, rate=60.0, every=0.5, trace=True, snapshots=snapshots))
    assert len(snapshots) == len(points) == 2
    text = growing_lines(snapshots[0], snapshots[1], top=5)
    assert len(text.splitlines()) == 5
    # Allocations are booked to a source line (this process runs the core as imported).
    assert all(" MiB " in line and ".py:" in line for line in text.splitlines())


def test_growing_lines_lists_only_what_grew_largest_first() -> None:
    tracemalloc.start()
    try:
        dropped = [bytearray(2 << 20)]  # freed before the second snapshot: -2 MiB
        first = tracemalloc.take_snapshot()
        dropped.clear()
        kept = [bytearray(1 << 20)]  # this line grows by 1 MiB
        more = [bytearray(3 << 19)]  # and this one by 1.5 MiB
        last = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    top = growing_lines(first, last, top=2).splitlines()
    assert "+1.50 MiB" in top[0] and "+1.00 MiB" in top[1]
    assert "test_bench_soak_growth.py" in top[0]
    assert kept and more


def test_the_command_prints_the_lines_that_grew_over_the_second_half(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["--minutes", "1", "--rate", "60", "--every", "0.5", "--tracemalloc", "--lines", "3"])
    out = capsys.readouterr().out
    assert "From minute 0.5 to 1: Python heap (traced) grew" in out
    lines = out.split("Grown most from minute 0.5 to 1:\n")[1].strip().splitlines()
    assert len(lines) == 3 and all(
        " MiB " in line and line.strip().startswith("+") for line in lines
    )


def test_lines_without_tracing_is_refused() -> None:
    with pytest.raises(SystemExit):
        main(["--lines", "3"])


def test_the_middle_checkpoint_is_the_one_nearest_half_way() -> None:
    points = [Checkpoint(m, 0, 0, 0, 0, 0, 0, 0, 0, 0) for m in (10, 20, 30, 40, 50, 60)]
    assert middle_index(points) == 2  # minute 30
    assert middle_index(points[:5]) == 1  # 25 is as near to 20 as to 30: the first
