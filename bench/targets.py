"""The targets the benchmark report judges, each with what was measured and a verdict."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bench.throughput import Result

if TYPE_CHECKING:
    from bench.report import Report


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _find(results: Sequence[Result], name: str, variant: str) -> Result | None:
    return next((r for r in results if r.name == name and r.variant == variant), None)


Row = tuple[str, str, str]


def targets(report: Report) -> list[Row]:
    """(target, measured, verdict) rows."""
    return [
        *_throughput_targets(report),
        *_latency_targets(report),
        *_state_targets(report),
        *_soak_target(report),
        *([report.hot_id.target_row()] if report.hot_id is not None else []),
        *([report.segment.target_row()] if report.segment is not None else []),
    ]


def _throughput_targets(report: Report) -> list[Row]:
    rows: list[Row] = []
    single = report.throughput[0].variant if report.throughput else ""
    noop = _find(report.throughput, "no-op Faust agent", single)
    mine = _find(report.throughput, "tracker worker", single)
    if noop and mine:
        share = mine.messages_per_s / noop.messages_per_s
        rows.append(
            (
                "single-event messages ≥ 80% of the no-op Faust agent",
                f"{share:.0%} ({fmt(mine.messages_per_s)} vs {fmt(noop.messages_per_s)} msg/s)",
                "met" if share >= 0.8 else "missed",
            )
        )
    batched = [
        r for r in report.throughput if r.name == "tracker worker" and r.variant.startswith("100")
    ]
    if batched and batched[0].per_core:
        per_core = batched[0].per_core
        verdict = (
            "met (stretch too)"
            if per_core >= 100_000
            else "met"
            if per_core >= 50_000
            else "missed"
        )
        rows.append(
            (
                "100-event batches ≥ 50,000 events/s per worker core (stretch 100,000)",
                f"{fmt(per_core)} events per worker CPU-second ({fmt(batched[0].events_per_s)} events/s on {batched[0].cores:.2f} cores)",
                verdict,
            )
        )
    return rows


def _latency_targets(report: Report) -> list[Row]:
    rows: list[Row] = []
    for lat in report.latency:
        rows.append(
            (
                f"p99 produce-to-/metrics < 2 s at half the max rate ({lat.variant})",
                f"p99 {fmt(lat.p99_ms)} ms (p50 {fmt(lat.p50_ms)} ms) at {fmt(lat.rate)} events/s",
                "met" if lat.p99_ms < 2000 else "missed",
            )
        )
        if lat.close_after_last_s is not None:
            late = lat.close_after_last_s - lat.gap_s
            rows.append(
                (
                    "sessions close on time (idle close within gap + a few seconds)",
                    f"last session closed {lat.close_after_last_s:.1f} s after its last event = gap + {late:.1f} s "
                    f"(gap {lat.gap_s:.0f} s, out-of-orderness {lat.max_out_of_order_s:.0f} s, idle timeout {lat.idle_timeout_s:.0f} s)",
                    "met" if late <= lat.max_out_of_order_s + 5 else "missed",
                )
            )
    return rows


def _state_targets(report: Report) -> list[Row]:
    rows: list[Row] = []
    for state in report.state:
        per_session = state.open.traced_bytes_per_customer or state.open.rss_bytes_per_customer
        rows.append(
            (
                f"≤ 1 KiB of state per open session ({state.customers:,} customers)",
                f"{fmt(state.open.row_bytes_per_customer)} B row; {fmt(per_session)} B of process memory",
                "met" if per_session is not None and per_session <= 1024 else "missed",
            )
        )
    big = max(report.state, key=lambda s: s.customers, default=None)
    if big is not None:
        worst = max(big.open.scrape_ms, big.reach.scrape_ms)
        rows.append(
            (
                f"/metrics scrape < 100 ms with {big.customers:,} customers in state",
                f"{worst:.1f} ms",
                "met" if worst < 100 else "missed",
            )
        )
    return rows


def _soak_target(report: Report) -> list[Row]:
    rows: list[Row] = []
    if report.soak is not None:
        soak = report.soak
        rows.append(
            (
                f"flat memory over a {soak.minutes:.0f}-minute run at steady load",
                f"RSS {soak.rss_at(soak.minutes * 30):.0f} → {soak.rss_at(soak.minutes * 60):.0f} MiB over the second half",
                "met" if soak.growth_mib <= 10 else "missed",
            )
        )
    else:
        rows.append(
            ("flat memory over a 10-minute run at steady load", "not run (use --soak)", "-")
        )
    return rows
