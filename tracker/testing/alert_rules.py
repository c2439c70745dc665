"""The shipped alert rules, evaluated over simulated counters the way Prometheus does.

Thresholds, windows, offsets and ``for`` durations are read from
``deploy/prometheus/rules``; the arithmetic mirrors the rule expressions, with
Prometheus' own ``increase()`` (extrapolation at the window edges included).
``tracker.testing.alert_promtool`` runs the same series through ``promtool test
rules`` and checks that both fire at the same evaluation times, so this mirror
cannot drift from the rules unnoticed: it exists because promtool needs about
30 ms per evaluation step, far too slow for years of simulated minutes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

RULES_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules"
_UNITS = {"s": 1 / 60, "m": 1, "h": 60, "d": 1440, "w": 10080}
_DURATION = re.compile(r"(\d+)([smhdw])")
_RANGE_OFFSET = re.compile(r"\[(\w+)\] offset (\w+)")


class RuleShapeError(Exception):
    """The rule files no longer have the shape this mirror evaluates."""


def minutes(duration: str) -> float:
    """A Prometheus duration (``1w``, ``167h45m``, ``30m``) in minutes."""
    parts = _DURATION.findall(duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise RuleShapeError(f"not a duration: {duration!r}")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def load_rules(rules_dir: Path = RULES_DIR) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for path in sorted(rules_dir.glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            rules.extend(group["rules"])
    return rules


@dataclass(frozen=True)
class ConversionRule:
    windows: tuple[str, ...]
    baseline: tuple[tuple[float, float], ...]  # (range, offset) in minutes, pooled
    zscore: float
    fraction: float
    min_baseline: float
    hold: float  # the alert's `for`, minutes


@dataclass(frozen=True)
class TrafficRule:
    window: float
    before: tuple[float, float]  # (range, offset) of last week's rate before the moment
    after: tuple[float, float]
    min_per_hour: float
    hold: float


def _record(rules: Sequence[dict[str, Any]], name: str) -> str:
    for rule in rules:
        if rule.get("record") == name:
            return str(rule["expr"])
    raise RuleShapeError(f"no recording rule {name}")


def _alert(rules: Sequence[dict[str, Any]], name: str) -> dict[str, Any]:
    for rule in rules:
        if rule.get("alert") == name:
            return rule
    raise RuleShapeError(f"no alert {name}")


def threshold(rules: Sequence[dict[str, Any]], name: str) -> float:
    expr = _record(rules, name)
    match = re.fullmatch(r"vector\(([-\d.e]+)\)", expr.strip())
    if match is None:
        raise RuleShapeError(f"{name} is not a constant: {expr}")
    return float(match[1])


def _ranges(expr: str) -> tuple[tuple[float, float], ...]:
    return tuple((minutes(r), minutes(o)) for r, o in _RANGE_OFFSET.findall(expr))


def conversion_rule(rules: Sequence[dict[str, Any]]) -> ConversionRule:
    alert = _alert(rules, "ConversionRateDrop")
    windows = tuple(re.findall(r"tracker:conversion_deficit:zscore(\w+)", alert["expr"]))
    closed = _ranges(_record(rules, "tracker:sessions_closed:increase6h_4w"))
    if (
        not windows
        or not closed
        or closed != _ranges(_record(rules, "tracker:sessions_converted:increase6h_4w"))
    ):
        raise RuleShapeError("ConversionRateDrop: windows or baseline not found")
    return ConversionRule(
        windows,
        closed,
        threshold(rules, "tracker:conversion_deficit_zscore:threshold"),
        threshold(rules, "tracker:conversion_drop_fraction:threshold"),
        threshold(rules, "tracker:conversion_baseline_min_conversions:threshold"),
        minutes(alert["for"]),
    )


def traffic_rule(rules: Sequence[dict[str, Any]]) -> TrafficRule:
    alert = _alert(rules, "TrafficStopped")
    (before,) = _ranges(_record(rules, "channel:tracker_events:rate15m_offset1w"))
    (after,) = _ranges(_record(rules, "channel:tracker_events:rate15m_offset1w_next15m"))
    window = re.search(r"\[(\w+)\]", _record(rules, "channel:tracker_events:increase15m"))
    if window is None:
        raise RuleShapeError("channel:tracker_events:increase15m has no range")
    return TrafficRule(
        minutes(window[1]),
        before,
        after,
        threshold(rules, "tracker:traffic_min_events_per_hour:threshold"),
        minutes(alert["for"]),
    )


def increase(
    counter: Sequence[float], step: float, at: int, rng: float, off: float
) -> float | None:
    """Prometheus 2.x ``increase(c[rng] offset off)`` at sample index ``at``.

    Samples sit every ``step`` minutes from index 0; the window is closed at both
    ends; no counter resets occur in simulated series.
    """
    end = at - off / step
    start = end - rng / step
    first, last = max(math.ceil(start), 0), min(math.floor(end), len(counter) - 1)
    if last - first < 1:
        return None
    result = counter[last] - counter[first]
    if first == start and last == end:
        return result  # a full window on the grid: nothing to extrapolate
    sampled = (last - first) * step
    to_start, to_end = (first - start) * step, (end - last) * step
    if result > 0 and counter[first] >= 0:
        to_start = min(to_start, sampled * counter[first] / result)
    limit = 1.1 * step
    extended = sampled + (to_start if to_start < limit else step / 2)
    extended += to_end if to_end < limit else step / 2
    return result * extended / sampled


def _pooled(
    counter: Sequence[float], step: float, at: int, parts: Sequence[tuple[float, float]]
) -> float:
    return sum(increase(counter, step, at, r, o) or 0.0 for r, o in parts)


def deficit_z(observed: float, expected: float, baseline: float) -> float:
    """The rule's z: Wilson-Hilferty for P(Poisson(expected) <= observed), baseline-adjusted."""
    k = observed + 1
    z = 3 * math.sqrt(k) * ((expected / k) ** (1 / 3) - 1 + 1 / (9 * k))
    return float(z / math.sqrt(1 + expected / baseline))


def conversion_evidence(
    rule: ConversionRule, closed: Sequence[float], converted: Sequence[float], step: float, at: int
) -> float | None:
    """The largest z of the windows with a large enough drop, where the baseline guard
    passes (the alert's value before the threshold), or None where that is empty."""
    base_closed = _pooled(closed, step, at, rule.baseline)
    base_won = _pooled(converted, step, at, rule.baseline)
    if base_closed <= 0 or base_won <= 0 or base_won < rule.min_baseline:
        return None
    best: float | None = None
    for window in rule.windows:
        n = increase(closed, step, at, minutes(window), 0)
        o = increase(converted, step, at, minutes(window), 0)
        if n is None or o is None:
            continue
        e = n * base_won / base_closed
        if not o < e * rule.fraction:
            continue
        z = deficit_z(o, e, base_won)
        best = z if best is None else max(best, z)
    return best


def traffic_condition(rule: TrafficRule, events: Sequence[float], step: float, at: int) -> bool:
    before = increase(events, step, at, *rule.before)
    after = increase(events, step, at, *rule.after)
    if before is None or after is None:
        return False
    per_hour = 60 / rule.before[0]
    if before * per_hour < rule.min_per_hour or after * 60 / rule.after[0] < rule.min_per_hour:
        return False
    now = increase(events, step, at, rule.window, 0)
    return now is None or not now > 0


def firing(condition: Sequence[bool], step: float, hold: float) -> list[bool]:
    """Prometheus' ``for``: firing once the condition held at every evaluation for ``hold``."""
    out, since = [], None
    for index, active in enumerate(condition):
        if not active:
            since = None
        elif since is None:
            since = index
        out.append(since is not None and (index - since) * step >= hold)
    return out


def episodes(states: Sequence[bool]) -> list[tuple[int, int]]:
    """(first, last) index of every run of firing evaluations."""
    runs, start = [], None
    for index, state in enumerate(states):
        if state and start is None:
            start = index
        elif not state and start is not None:
            runs.append((start, index - 1))
            start = None
    if start is not None:
        runs.append((start, len(states) - 1))
    return runs


@dataclass(frozen=True)
class ConsentRule:
    window: float
    baseline_window: float
    baseline_offsets: tuple[float, ...]
    points: float
    min_events: float
    hold: float


def consent_rule(rules: Sequence[dict[str, Any]]) -> ConsentRule:
    alert = _alert(rules, "ConsentRateDrop")
    now = re.search(r"\[(\w+)\]", _record(rules, "tracker:events_no_consent:increase30m"))
    hour = re.search(r"\[(\w+)\]", _record(rules, "tracker:events_no_consent:increase1h"))
    offsets = re.findall(
        r"increase1h offset (\w+)", _record(rules, "tracker:events_no_consent:increase1h_4w")
    )
    if now is None or hour is None or not offsets:
        raise RuleShapeError("ConsentRateDrop: windows or baseline not found")
    return ConsentRule(
        minutes(now[1]),
        minutes(hour[1]),
        tuple(minutes(o) for o in offsets),
        threshold(rules, "tracker:consent_drop_points:threshold"),
        threshold(rules, "tracker:consent_min_events:threshold"),
        minutes(alert["for"]),
    )


def consent_condition(
    rule: ConsentRule, missing: Sequence[float], counted: Sequence[float], step: float, at: int
) -> bool:
    """ConsentRateDrop's expression: the no-consent share now above the pooled share of the
    same hour in past weeks (recorded 1h sums, looked up at each offset) by ``points``."""
    gone = increase(missing, step, at, rule.window, 0)
    kept = increase(counted, step, at, rule.window, 0)
    if gone is None or kept is None or gone + kept <= 0 or gone + kept < rule.min_events:
        return False
    base_gone = base_all = 0.0
    for offset in rule.baseline_offsets:
        then = int(at - offset / step)
        g = increase(missing, step, then, rule.baseline_window, 0) if then >= 0 else None
        k = increase(counted, step, then, rule.baseline_window, 0) if then >= 0 else None
        if g is not None and k is not None:
            base_gone, base_all = base_gone + g, base_all + g + k
    if base_all <= 0:
        return False
    return gone / (gone + kept) > base_gone / base_all + rule.points
