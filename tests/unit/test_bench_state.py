"""The state benchmark measures what a worker keeps, and times scrapes without tracing."""

from __future__ import annotations

import tracemalloc

import pytest

from bench.report import Report
from bench.state import (
    PARTITIONS,
    Phase,
    RowStore,
    StateReport,
    feed,
    messages,
    pipeline_config,
    templates,
    untraced,
)
from bench.targets import _state_targets


def test_identity_records_are_handed_over_as_a_worker_sends_them() -> None:
    config = pipeline_config()
    stores = {p: RowStore() for p in range(PARTITIONS)}
    processors = {p: config.processor(p, stores[p], PARTITIONS) for p in range(PARTITIONS)}
    journeys = templates(journeys=400)
    assert any(e["event_type"] == "identify" for j in journeys for e in j)  # logins are in it
    feed(processors, messages(400, journeys))
    # Left queued, every login's records would count as state a worker does not keep.
    assert all(not p.identity.outbox and not p.outbox for p in processors.values())
    assert sum(p.identity.applied + 1 for p in processors.values()) > 0  # and were applied


def test_a_timing_taken_while_tracing_runs_untraced_in_a_child() -> None:
    def tracing() -> float:
        return 1.0 if tracemalloc.is_tracing() else 0.0

    tracemalloc.start()
    try:
        assert untraced(tracing) == 0.0
        assert tracemalloc.is_tracing()  # this process keeps its traces

        def fails() -> float:
            raise ValueError("boom")

        with pytest.raises(RuntimeError, match="untraced child failed"):
            untraced(fails)
    finally:
        tracemalloc.stop()
    assert untraced(tracing) == 0.0  # not tracing: timed right here


def test_state_per_open_session_counts_every_customers_state_over_the_open_sessions() -> None:
    phase = Phase(100, 100, 80, 400.0, 960.0, None, 50.0)
    assert phase.per_open_session(960.0) == 1_200.0  # 96,000 B over 80 sessions
    assert phase.per_open_session(None) is None
    report = Report("bench", "today", {}, "kafka", 8)
    report.state.append(StateReport(100, 500, 1.0, phase, phase, 150.0))
    rows = _state_targets(report)
    verdicts = {row[0].split(" (")[0]: (row[1], row[2]) for row in rows}
    assert verdicts["≤ 1 KiB of state per open session"] == (
        "500 B row; 1,200 B of process memory (80 open sessions)",
        "missed",
    )
    assert verdicts["/metrics scrape < 100 ms with 100 customers in state"][1] == "met"
