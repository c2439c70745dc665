"""The benchmark's tables: printed, and written into BENCHMARKS.md between markers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.latency import LatencyResult
from bench.soak import SoakResult
from bench.state import Phase as StatePhase
from bench.state import StateReport
from bench.throughput import Result

START = "<!-- bench:results:start -->"
END = "<!-- bench:results:end -->"
PROFILE_START = "<!-- bench:profile:start -->"
PROFILE_END = "<!-- bench:profile:end -->"
__all__ = ["Report", "StatePhase", "markdown", "write"]


@dataclass
class Report:
    command: str
    date: str
    machine: dict[str, str]
    broker: str
    partitions: int
    throughput: list[Result] = field(default_factory=list)
    pure: list[tuple[str, float, float]] = field(default_factory=list)  # variant, ev/s, msg/s
    latency: list[LatencyResult] = field(default_factory=list)
    state: list[StateReport] = field(default_factory=list)
    scaling: list[Result] = field(default_factory=list)
    soak: SoakResult | None = None
    profiles: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _f(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _find(results: Sequence[Result], name: str, variant: str) -> Result | None:
    return next((r for r in results if r.name == name and r.variant == variant), None)


def targets(report: Report) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) rows."""
    rows: list[tuple[str, str, str]] = []
    single = report.throughput[0].variant if report.throughput else ""
    noop = _find(report.throughput, "no-op Faust agent", single)
    mine = _find(report.throughput, "tracker worker", single)
    if noop and mine:
        share = mine.messages_per_s / noop.messages_per_s
        rows.append(
            (
                "single-event messages ≥ 80% of the no-op Faust agent",
                f"{share:.0%} ({_f(mine.messages_per_s)} vs {_f(noop.messages_per_s)} msg/s)",
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
                f"{_f(per_core)} events per worker CPU-second ({_f(batched[0].events_per_s)} events/s on {batched[0].cores:.2f} cores)",
                verdict,
            )
        )
    for lat in report.latency:
        rows.append(
            (
                f"p99 produce-to-/metrics < 2 s at half the max rate ({lat.variant})",
                f"p99 {_f(lat.p99_ms)} ms (p50 {_f(lat.p50_ms)} ms) at {_f(lat.rate)} events/s",
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
    for state in report.state:
        per_session = state.open.traced_bytes_per_customer or state.open.rss_bytes_per_customer
        rows.append(
            (
                f"≤ 1 KiB of state per open session ({state.customers:,} customers)",
                f"{_f(state.open.row_bytes_per_customer)} B row; {_f(per_session)} B of process memory",
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


def markdown(report: Report) -> str:
    out = [
        f"Command: `{report.command}` · {report.date} · total {report.seconds / 60:.1f} min",
        "",
        f"Machine: {report.machine.get('cpu')}, {report.machine.get('memory')}, Linux {report.machine.get('kernel')}, "
        f"Python {report.machine.get('python')}; load average at start {report.machine.get('load average at start')}. "
        f"Broker: {report.broker}, one node on the same machine; topics of {report.partitions} partitions.",
        "",
        f"Packages: {report.machine.get('packages')}",
        "",
        "### Throughput: draining a pre-filled topic, one worker process",
        "",
    ]
    rows = []
    for r in report.throughput:
        rows.append(
            [
                r.name,
                r.variant,
                _f(r.events),
                _f(r.events_per_s)
                + (f" ({_f(r.spread[0])}-{_f(r.spread[1])})" if r.spread else ""),
                _f(r.messages_per_s),
                _f(r.cpu_s_per_million, 1),
                _f(r.cores, 2),
                _f(r.per_core),
                _f(r.others_cores, 2),
                _f(r.rss_mib),
                {True: "yes", False: "NO", None: "-"}[r.correct],
            ]
        )
    for variant, eps, mps in report.pure:
        rows.append(
            [
                "pure pipeline in-process (reference)",
                variant,
                "",
                _f(eps),
                _f(mps),
                _f(1e6 / eps, 1),
                "1.00",
                _f(eps),
                "",
                "",
                "",
            ]
        )
    out += _table(
        [
            "run",
            "messages",
            "events",
            "events/s",
            "messages/s",
            "CPU s / M events",
            "cores busy",
            "events per CPU-s",
            "broker + bench cores",
            "RSS MiB",
            "counts exact",
        ],
        rows,
    )
    notes = [n for r in report.throughput for n in r.notes]
    if notes:
        out += ["", *[f"- {n}" for n in notes]]
    if report.latency:
        out += ["", "### Latency: produce → reflected in /metrics, at half the maximum rate", ""]
        out += _table(
            [
                "messages",
                "offered events/s",
                "events",
                "p50 ms",
                "p99 ms",
                "max ms",
                "worker cores",
                "/metrics ms",
                "last session closed after its last event",
                "counts exact",
            ],
            [
                [
                    lat.variant,
                    _f(lat.rate),
                    _f(lat.events),
                    _f(lat.p50_ms),
                    _f(lat.p99_ms),
                    _f(lat.max_ms),
                    _f(lat.cores, 2),
                    _f(lat.scrape_ms_p50, 1),
                    (
                        f"{lat.close_after_last_s:.1f} s (gap {lat.gap_s:.0f} s)"
                        if lat.close_after_last_s is not None
                        else "-"
                    ),
                    {True: "yes", False: "NO", None: "-"}[lat.correct],
                ]
                for lat in report.latency
            ],
        )
        out += ["", *[f"- {lat.variant}: {n}" for lat in report.latency for n in lat.notes]]
    if report.state:
        out += [
            "",
            "### State per open session and per customer in the reach windows (pure processor, in-process)",
            "",
        ]
        out += _table(
            [
                "customers",
                "events",
                "open sessions",
                "row bytes / open session",
                "process bytes / open session",
                "row bytes / customer after close",
                "traced bytes / customer after close",
                "scrape ms (open / closed)",
                "changelog bytes / event",
            ],
            [
                [
                    _f(s.customers),
                    _f(s.events),
                    _f(s.open.open_sessions),
                    _f(s.open.row_bytes_per_customer),
                    (
                        f"{_f(s.open.traced_bytes_per_customer)} (traced)"
                        if s.open.traced_bytes_per_customer
                        else f"{_f(s.open.rss_bytes_per_customer)} (RSS)"
                    ),
                    _f(s.reach.row_bytes_per_customer),
                    _f(s.reach.traced_bytes_per_customer),
                    f"{s.open.scrape_ms:.1f} / {s.reach.scrape_ms:.1f}",
                    _f(s.changelog_bytes_per_event),
                ]
                for s in report.state
            ],
        )
    if report.scaling:
        out += [
            "",
            "### Scaling: one vs two worker processes (same consumer group, 100-event batches)",
            "",
        ]
        out += _table(
            [
                "workers",
                "run",
                "events/s (all workers)",
                "worker cores busy",
                "events per worker CPU-s",
                "broker + bench cores",
                "RSS MiB (sum)",
                "counts exact",
            ],
            [
                [
                    str(r.workers),
                    r.name,
                    _f(r.events_per_s),
                    _f(r.cores, 2),
                    _f(r.per_core),
                    _f(r.others_cores, 2),
                    _f(r.rss_mib),
                    {True: "yes", False: "NO", None: "-"}[r.correct],
                ]
                for r in report.scaling
            ],
        )
        out += ["", *[f"- {r.workers} workers: {n}" for r in report.scaling for n in r.notes]]
    if report.soak is not None:
        soak = report.soak
        out += [
            "",
            f"### Soak: {soak.minutes:.0f} minutes at {soak.rate:,.0f} events/s, {soak.events:,} events",
            "",
        ]
        marks = sorted({round(soak.minutes * 60 * f) for f in (0.1, 0.25, 0.5, 0.75, 1.0)})
        out += _table(
            ["after", *[f"{m // 60}:{m % 60:02d}" for m in marks]],
            [["RSS MiB", *[f"{soak.rss_at(m):.0f}" for m in marks]]],
        )
    out += ["", "### Targets", ""]
    out += _table(["target", "measured", "verdict"], [list(t) for t in targets(report)])
    if report.notes:
        out += ["", *[f"- {n}" for n in report.notes]]
    return "\n".join(out)


def profile_markdown(profiles: dict[str, list[tuple[str, float]]]) -> str:
    out = []
    for name, shares in profiles.items():
        out += ["", f"**{name}** (py-spy, share of samples):", ""]
        out += _table(["where", "share"], [[n, f"{s:.1%}"] for n, s in shares])
    return "\n".join(out).strip()


def write(path: Path, report: Report) -> None:
    """Replace the marked blocks of BENCHMARKS.md (create it when missing)."""
    text = (
        path.read_text()
        if path.exists()
        else f"# Benchmarks\n\n{START}\n{END}\n\n{PROFILE_START}\n{PROFILE_END}\n"
    )
    text = _replace(text, START, END, markdown(report))
    if report.profiles:
        text = _replace(text, PROFILE_START, PROFILE_END, profile_markdown(report.profiles))
    path.write_text(text)


def _replace(text: str, start: str, end: str, body: str) -> str:
    if start not in text or end not in text:
        return text.rstrip() + f"\n\n{start}\n{body}\n{end}\n"
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    return f"{head}{start}\n{body}\n{end}{tail}"


def console(report: Report) -> str:
    return markdown(report)
