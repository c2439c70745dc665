"""The benchmark's tables: printed, and written into BENCHMARKS.md between markers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.hot_id import HotIdResult
from bench.latency import LatencyResult
from bench.segment_load import SegmentLoadResult
from bench.soak import SoakResult
from bench.state import Phase as StatePhase
from bench.state import StateReport
from bench.targets import fmt, targets
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
    hot_id: HotIdResult | None = None  # one customer id sending 50,000 events a day
    segment: SegmentLoadResult | None = None  # the Segment API against /v1/events
    profiles: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def markdown(report: Report) -> str:
    """The report as Markdown: one section per kind of run, then the targets."""
    out = _header(report)
    for section in (_throughput, _latency, _state, _scaling, _soak):
        out += section(report)
    out += ["", "### Targets", ""]
    out += _table(["target", "measured", "verdict"], [list(t) for t in targets(report)])
    if report.notes:
        out += ["", *[f"- {n}" for n in report.notes]]
    return "\n".join(out)


def _header(report: Report) -> list[str]:
    return [
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


def _throughput(report: Report) -> list[str]:
    out: list[str] = []
    rows = []
    for r in report.throughput:
        rows.append(
            [
                r.name,
                r.variant,
                fmt(r.events),
                fmt(r.events_per_s)
                + (f" ({fmt(r.spread[0])}-{fmt(r.spread[1])})" if r.spread else ""),
                fmt(r.messages_per_s),
                fmt(r.cpu_s_per_million, 1),
                fmt(r.cores, 2),
                fmt(r.per_core),
                fmt(r.others_cores, 2),
                fmt(r.rss_mib),
                {True: "yes", False: "NO", None: "-"}[r.correct],
            ]
        )
    for variant, eps, mps in report.pure:
        rows.append(
            [
                "pure pipeline in-process (reference)",
                variant,
                "",
                fmt(eps),
                fmt(mps),
                fmt(1e6 / eps, 1),
                "1.00",
                fmt(eps),
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
    return out


def _latency(report: Report) -> list[str]:
    out: list[str] = []
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
                    fmt(lat.offered),
                    fmt(lat.events),
                    fmt(lat.p50_ms),
                    fmt(lat.p99_ms),
                    fmt(lat.max_ms),
                    fmt(lat.cores, 2),
                    fmt(lat.scrape_ms_p50, 1),
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
    return out


def _state(report: Report) -> list[str]:
    out: list[str] = []
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
                "changelog bytes / event (the same rows as JSON)",
            ],
            [
                [
                    fmt(s.customers),
                    fmt(s.events),
                    fmt(s.open.open_sessions),
                    fmt(s.open.per_open_session(s.open.row_bytes_per_customer)),
                    (
                        f"{fmt(s.open.per_open_session(s.open.traced_bytes_per_customer))} (traced)"
                        if s.open.traced_bytes_per_customer
                        else f"{fmt(s.open.per_open_session(s.open.rss_bytes_per_customer))} (RSS)"
                    ),
                    fmt(s.reach.row_bytes_per_customer),
                    fmt(s.reach.traced_bytes_per_customer),
                    f"{s.open.scrape_ms:.1f} / {s.reach.scrape_ms:.1f}",
                    f"{fmt(s.changelog_bytes_per_event)} ({fmt(s.changelog_json_bytes_per_event)})",
                ]
                for s in report.state
            ],
        )
    return out


def _scaling(report: Report) -> list[str]:
    out: list[str] = []
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
                    fmt(r.events_per_s),
                    fmt(r.cores, 2),
                    fmt(r.per_core),
                    fmt(r.others_cores, 2),
                    fmt(r.rss_mib),
                    {True: "yes", False: "NO", None: "-"}[r.correct],
                ]
                for r in report.scaling
            ],
        )
        out += ["", *[f"- {r.workers} workers: {n}" for r in report.scaling for n in r.notes]]
    return out


def _asked(soak: SoakResult) -> str:
    """What the soak's rate is a share of: the drain of aged state, and the young one's."""
    top = soak.maximum
    if top is None or not top.events_per_s:
        return ""
    asked = (
        f"Asked: {soak.rate / top.events_per_s:.0%} of the {top.events_per_s:,.0f} events/s "
        f"a worker drained of the same traffic pre-filled (counts exact: {top.correct})"
    )
    if soak.young is None:
        return asked + ". "
    return (
        f"{asked}, over the second half of {top.events:,} events sent at {soak.share:.0%} of "
        f"the {soak.young.events_per_s:,.0f} events/s drained from young state (counts "
        f"exact: {soak.young.correct}). "
    )


def _soak(report: Report) -> list[str]:
    out: list[str] = []
    if report.soak is not None:
        soak = report.soak
        out += [
            "",
            f"### Soak: {soak.minutes:.0f} minutes at {soak.rate:,.0f} events/s, {soak.events:,} events",
            "",
            _asked(soak)
            + f"Delivered {soak.delivered_rate:,.0f} events/s from {soak.population:,} customers "
            f"resting between visits (`bench/soak_traffic.py`); {soak.applied:,} applied when "
            f"the producer stopped; the worker used {soak.cores:.2f} cores.",
            "",
        ]
        marks = sorted({round(soak.minutes * 60 * f) for f in (0.1, 0.25, 0.5, 0.75, 1.0)})
        out += _table(
            ["after", *[f"{m // 60}:{m % 60:02d}" for m in marks]],
            [
                ["RSS MiB", *[f"{soak.rss_at(m):.0f}" for m in marks]],
                # smaps is read once a minute, RSS every 10 s: the split is of its own sample
                *(
                    [["smaps total MiB", *[f"{sum(soak.kinds_at(m).values()):.0f}" for m in marks]]]
                    if soak.kinds
                    else []
                ),
                *[
                    [f"of which {kind}", *[f"{soak.kinds_at(m).get(kind, 0.0):.0f}" for m in marks]]
                    for kind in soak.kind_names()
                ],
                # the worker's own count (/debug/memory), taken with each smaps sample
                *[
                    [f"worker counts: {part}", *[_part(part, soak.parts_at(m)) for m in marks]]
                    for part in soak.part_names()
                ],
            ],
        )
        out += _traced(soak)
    return out


def _traced(soak: SoakResult) -> list[str]:
    """The second half's growth of Python's allocations, by site (``--soak-traced``)."""
    if len(soak.traced_reports) < 2:
        return []
    half, end = soak.traced_reports[0], soak.traced_reports[-1]
    mib = 2**20
    out = [
        "",
        f"Traced by tracemalloc ({end['frames']} frames a trace): {half['traced_bytes'] / mib:.1f}"
        f" → {end['traced_bytes'] / mib:.1f} MiB over the second half; the sites that moved most:",
        "",
    ]
    return out + _table(
        ["MiB", "blocks", "where (innermost first)"],
        [
            [f"{change['bytes'] / mib:+.2f}", f"{change['blocks']:+,}", " ← ".join(change["where"])]
            for change in end.get("changed", [])
        ],
    )


def _part(name: str, parts: dict[str, float]) -> str:
    """A part's MiB to a tenth, a count whole; a dash where the sample lacks it."""
    value = parts.get(name)
    if value is None:
        return "-"
    return f"{value:.1f}" if name.endswith("MiB") else f"{value:,.0f}"


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
