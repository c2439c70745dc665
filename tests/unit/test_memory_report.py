"""What a worker's memory holds, part by part (stream.memory_report, ``GET /debug/memory``).

The route itself is read from a real worker in reliability scenario 6
(tests/integration/test_reliability_memory.py).
"""

from __future__ import annotations

import gc
import sys

from tests.unit.helpers import Harness, encode, ev
from tracker.core.histogram import BucketHistogram
from tracker.stream.memory_report import (
    TableView,
    Throttle,
    histogram_buckets,
    memory_report,
    resident_bytes,
    row_kind,
    sized_parts,
    table_memory,
    table_rows,
)


def test_rows_are_told_apart_by_their_key() -> None:
    assert row_kind(b"3/c/AbC-pseudonym") == "customer"
    assert row_kind(b"3/a/m/29650000") == "minute"
    assert row_kind(b"3/a/c") == "other"
    assert row_kind(b"3/acct/x") == "other"


def test_a_tables_rows_are_counted_and_sized_by_kind() -> None:
    rows = {b"0/c/a": b"x" * 1000, b"0/c/b": b"y" * 10, b"0/a/m/7": b"{}", b"0/a/c": b"{}"}
    parts = table_rows(rows)
    assert {kind: part["rows"] for kind, part in parts.items()} == {
        "customer": 2,
        "minute": 1,
        "other": 1,
    }
    customer = sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in rows.items() if b"/c/" in k)
    assert parts["customer"]["bytes"] == customer
    assert parts["other"]["bytes"] == sys.getsizeof(b"0/a/c") + sys.getsizeof(b"{}")
    # The dicts that hold the rows, which grow with them, are the table's index.
    key_partition = dict.fromkeys(rows, 0)
    memory = table_memory(TableView(rows, (key_partition,)))
    assert memory["index"] == {"bytes": sys.getsizeof(rows) + sys.getsizeof(key_partition)}
    assert memory["customer"] == parts["customer"]


def test_histogram_buckets_count_minutes_apart_from_hours_and_days() -> None:
    hist = BucketHistogram()
    for minute in range(120):
        hist.add_minute(minute, 1000)  # counts beyond the small ints CPython shares
    hist.add_hour(0, 5)
    hist.add_hour(1, 7)
    buckets = histogram_buckets([hist, BucketHistogram()])
    assert (buckets["minutes"], buckets["hours"]) == (120, 3)  # two hours, one day
    # Two hours of minutes are two arrays of 60 counts; a dict of them held an entry and
    # two int objects a minute, more than the whole histogram now.
    assert buckets["bytes"] > 2 * 60 * 8
    assert buckets["bytes"] < 120 * 2 * sys.getsizeof(1000)
    empty = BucketHistogram()
    assert buckets["bytes"] == sum(
        h.minutes.nbytes()
        + h.hours.nbytes()
        + sys.getsizeof(h.days)
        + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in h.days.items())
        for h in (hist, empty)
    )


def test_a_processors_parts_are_all_reported() -> None:
    h = Harness()
    for n in range(40):
        h.raw(f"c{n}", encode([ev("page_view", f"c{n}", n), ev("order", f"c{n}", n + 1)]))
    h.p.flush()  # the aggregate rows, as the worker's flush timer writes them
    rows = {key.encode(): value for key, value in h.store.rows.items()}
    report = memory_report({"tracker-state": TableView(rows)}, {0: h.p}, rss_bytes=123)
    table = report["tables"]["tracker-state"]
    assert table["customer"]["rows"] == 40
    assert table["customer"]["bytes"] > sum(len(v) for k, v in h.store.rows.items() if "/c/" in k)
    # Told apart as the keys are built: P/c/PSEUDONYM, P/a/m/MINUTE (core.partition, aggregates).
    minute_rows = sum(1 for key in h.store.rows if key.split("/")[1:3] == ["a", "m"])
    assert table["minute"]["rows"] == minute_rows > 0
    assert table["other"]["rows"] == len(rows) - 40 - minute_rows > 0
    assert report["histograms"]["minutes"] > 0
    assert report["decoded_rows"] == len(h.p.decoded) > 0
    assert report["pseudonyms"]["bound"] == 65_536
    assert report["pseudonyms"]["entries"] >= 40  # one per customer id, at least
    assert "gc" not in report  # only when asked: counting lists every object
    assert report["rss_bytes"] == 123
    sizes = sized_parts(report)
    assert sizes["tracker-state customer rows"] == table["customer"]["bytes"]
    assert sizes["tracker-state index"] == table["index"]["bytes"]
    assert sizes["histograms"] == report["histograms"]["bytes"]
    assert len(sizes) == 5  # three kinds of rows and the index of the one table; histograms
    objects = memory_report({}, {0: h.p}, count_objects=True)["gc"]
    assert objects["tracked"] > 0 and objects["frozen"] >= 0


def test_asked_again_soon_it_answers_its_last_count() -> None:
    counts = iter(range(100))
    throttle = Throttle(fresh_for_s=10.0)

    def count() -> dict[str, object]:
        return {"n": next(counts)}

    assert throttle.answer(100.0, count) == {"n": 0, "age_s": 0.0}
    assert throttle.answer(109.5, count) == {"n": 0, "age_s": 9.5}
    assert throttle.answer(110.0, count) == {"n": 1, "age_s": 0.0}


def test_a_slow_counts_freshness_runs_from_its_end() -> None:
    # A count that took 17 s: an ask queued behind it is answered from it, not recounted.
    counts = iter(range(100))
    throttle = Throttle(fresh_for_s=10.0)
    ended = iter([117.0, 140.0])
    assert throttle.answer(100.0, lambda: {"n": next(counts)}, lambda: next(ended)) == {
        "n": 0,
        "age_s": 0.0,
    }
    assert throttle.answer(117.5, lambda: {"n": next(counts)}, lambda: next(ended)) == {
        "n": 0,
        "age_s": 0.5,
    }
    assert throttle.answer(127.0, lambda: {"n": next(counts)}, lambda: next(ended))["n"] == 1


def test_without_partitions_the_report_is_empty_not_an_error() -> None:
    report = memory_report({}, {})
    assert report["tables"] == {}
    assert report["histograms"] == {"minutes": 0, "hours": 0, "bytes": 0}
    assert report["pseudonyms"] == {"entries": 0, "bound": 0}


def test_resident_memory_is_read_from_proc() -> None:
    rss = resident_bytes()
    assert rss is not None and 10 * 2**20 < rss < 64 * 2**30


def test_the_allocators_say_what_they_hold_beside_the_parts() -> None:
    # Process-wide figures: no collection of earlier tests' garbage inside the window.
    gc.collect()
    gc.disable()
    try:
        before = memory_report({}, {})["allocator"]
        kept = [bytearray(4096) for _ in range(2_000)]  # past pymalloc's 512 B: malloc's
        small = [object() for _ in range(20_000)]  # pymalloc's blocks
        after = memory_report({}, {})["allocator"]
    finally:
        gc.enable()
    if before["malloc"] is None:  # not glibc 2.33+: nothing to read, no error
        assert after["malloc"] is None
    else:
        grown = after["malloc"]["in_use"] - before["malloc"]["in_use"]
        assert 2_000 * 4096 <= grown < 2_000 * 4096 + 2**20
        assert set(after["malloc"]) == {"in_use", "free", "mapped"}
    assert after["pymalloc_blocks"] - before["pymalloc_blocks"] >= 20_000
    del kept, small
