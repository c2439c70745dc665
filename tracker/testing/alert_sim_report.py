"""The alert simulation's tables, written between markers into ALERTS.md."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

START, END = "<!-- alert-sim:start -->", "<!-- alert-sim:end -->"
Summary = Callable[[Sequence[float | None]], tuple[float | None, float | None, float]]


def poisson_interval(count: int, z: float = 1.96) -> tuple[float, float]:
    """95 % interval of a Poisson mean from one count (Wilson-Hilferty, close to Garwood's)."""
    low = 0.0 if count == 0 else count * (1 - 1 / (9 * count) - z / (3 * math.sqrt(count))) ** 3
    up = count + 1
    return low, up * (1 - 1 / (9 * up) + z / (3 * math.sqrt(up))) ** 3


def _rate(count: int, months: float) -> str:
    low, high = poisson_interval(count)
    return f"{count / months:.2f} ({low / months:.2f} to {high / months:.2f})"


def _minutes(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _false_table(results: dict[str, Any]) -> list[str]:
    zscore = results["rule"].zscore
    rates = sorted({r.rate for r in results["false"]})
    lines = [
        "| peak sessions/h | " + " | ".join(f"{r:.0%} conversion" for r in rates) + " |",
        "|---|" + "---|" * len(rates),
    ]
    for size in sorted({r.size for r in results["false"]}):
        cells = [
            _rate(r.episodes[zscore], r.months)
            for rate in rates
            for r in results["false"]
            if r.size == size and r.rate == rate
        ]
        lines.append(f"| {size:,} | " + " | ".join(cells) + " |")
    return lines


def _worst(results: dict[str, Any], zscore: float) -> str:
    worst = max(results["false"], key=lambda r: r.episodes[zscore] / r.months)
    return f"{_rate(worst.episodes[zscore], worst.months)} ({worst.size:,}/h, {worst.rate:.0%})"


def _lowest_level(
    table: dict[float, dict[float, list[float | None]]],
    zscore: float,
    limit: float,
    summary: Summary,
) -> str:
    for level in sorted(table):
        median, _, _ = summary(table[level][zscore])
        if median is not None and median <= limit:
            return f"{level:g}/h"
    return "none tested"


def _tradeoff(results: dict[str, Any], summary: Summary) -> list[str]:
    lines = [
        "| z threshold | worst false episodes / 30 days (95 % interval) | stop paged within 60 min (median) from | halving at 20/h: median, within 3 h |",
        "|---|---|---|---|",
    ]
    for zscore in sorted(results["false"][0].episodes):
        median, _, _ = summary(results["halve"][20][zscore])
        within = sum(v is not None and v <= 180 for v in results["halve"][20][zscore])
        shipped = " (shipped)" if zscore == results["rule"].zscore else ""
        lines.append(
            f"| {zscore:g}{shipped} | {_worst(results, zscore)} | "
            f"{_lowest_level(results['stop'], zscore, 60, summary)} | "
            f"{_minutes(median)} min, {within}/{len(results['halve'][20][zscore])} |"
        )
    return lines


def _delay_table(
    table: dict[float, dict[float, list[float | None]]],
    zscore: float,
    limit: float,
    summary: Summary,
) -> list[str]:
    lines = [
        f"| expected conversions/h | median min | 90th pct min | within {limit:.0f} min | detected in the horizon |",
        "|---|---|---|---|---|",
    ]
    for level in sorted(table):
        values = table[level][zscore]
        median, p90, found = summary(values)
        within = sum(v is not None and v <= limit for v in values)
        lines.append(
            f"| {level:g} | {_minutes(median)} | {_minutes(p90)} | {within}/{len(values)} | {found:.0%} |"
        )
    return lines


def _study_table(study: Any, summary: Summary, what: str) -> list[str]:
    lines = [
        f"| peak sessions/h | false episodes / 30 days (95 % interval) | share of minutes watched | {what}: median / 90th pct min |",
        "|---|---|---|---|",
    ]
    for size in sorted(study.false_episodes):
        median, p90, found = summary(study.delays[size])
        lines.append(
            f"| {size:,} | {_rate(study.false_episodes[size], study.months)} | "
            f"{study.watched[size]:.0%} | {_minutes(median)} / {_minutes(p90)} ({found:.0%} detected) |"
        )
    return lines


def render(results: dict[str, Any], summary: Summary) -> str:
    plan, rule = results["plan"], results["rule"]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python -m tracker.testing.alert_sim" + (" --quick" if results["quick"] else "")
    parts = [
        f"Command: `{command}` · {stamp} · {results['seconds'] / 60:.1f} min · "
        f"{plan.seeds} seeds x {plan.months_per_seed} months per shop, {plan.trials} trials per scenario · "
        f"z threshold {rule.zscore:g}, for {rule.hold:g} min, windows {', '.join(rule.windows)}",
        "",
        "**ConversionRateDrop: false episodes per 30 days** (no incident; rate and 95 % interval)",
        "",
        *_false_table(results),
        "",
        "**Conversions stop completely** (delay from the last counted conversion)",
        "",
        *_delay_table(results["stop"], rule.zscore, 60, summary),
        "",
        "**Conversion halves**",
        "",
        *_delay_table(results["halve"], rule.zscore, 180, summary),
        "",
        "**Traffic-only changes** (4 hours, unchanged conversion rate): "
        + ", ".join(
            f"{name}: fired in {hit} of {n} trials"
            for name, (hit, n) in results["traffic_only"].items()
        ),
        "",
        "**Trade-off: the z threshold** (same series, every threshold)",
        "",
        *_tradeoff(results, summary),
        "",
        "**TrafficStopped** (web stops at a weekday daytime minute; false episodes over all four channels)",
        "",
        *_study_table(results["traffic"], summary, "web stops"),
        "",
        "**ConsentRateDrop** (consented share falls from 70 % to 30 %)",
        "",
        *_study_table(results["consent"], summary, "banner breaks"),
    ]
    return "\n".join(parts)


def write_report(path: Path, results: dict[str, Any], summary: Summary) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else f"# Alerts\n\n{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    path.write_text(f"{head}{START}\n{render(results, summary)}\n{END}{tail}", encoding="utf-8")
