"""``make alert-sim``: false episodes and detection delays of the shipped alerts, simulated.

    python -m tracker.testing.alert_sim                 # full run, rewrites ALERTS.md's tables
    python -m tracker.testing.alert_sim --quick         # minutes: fewer months and trials

Counter series come from ``tracker.testing.alert_model`` (the published diurnal
curve with Poisson noise); the alerts are the rule files in
``deploy/prometheus/rules`` evaluated every simulated minute by
``tracker.testing.alert_rules``, which ``tracker.testing.alert_promtool``
checks against ``promtool test rules``. ALERTS.md explains the method.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.testing import alert_rules as ar
from tracker.testing.alert_model import (
    MINUTES_PER_DAY,
    WEEK_MINUTES,
    Change,
    Shop,
    shop_counters,
)
from tracker.testing.alert_sim_report import write_report
from tracker.testing.alert_sim_traffic import consent_study, traffic_study

SIZES = (100, 300, 1_000, 3_000, 10_000)
RATES = (0.01, 0.03, 0.10)
MONTH = 30 * MINUTES_PER_DAY
# The farthest baseline window ends 4 weeks - 3 h back and is 6 h long.
WARMUP = 4 * WEEK_MINUTES + 3 * 60
ALERTS_MD = Path(__file__).resolve().parents[2] / "ALERTS.md"


@dataclass(frozen=True)
class Plan:
    months_per_seed: int
    seeds: int
    trials: int


FULL = Plan(months_per_seed=4, seeds=3, trials=40)
QUICK = Plan(months_per_seed=1, seeds=2, trials=12)


@dataclass(frozen=True)
class FalseRate:
    size: int
    rate: float
    months: float
    episodes: dict[float, int]  # z threshold -> false episodes


def evidence(
    rule: ar.ConversionRule,
    shop: Shop,
    minutes: int,
    seed: int,
    change: Change | None = None,
    start: int = WARMUP,
) -> list[float | None]:
    counters = shop_counters(shop, minutes, seed, change)
    return [
        ar.conversion_evidence(rule, counters.closed, counters.converted, 1, at)
        for at in range(start, minutes + 1)
    ]


def fired(values: Sequence[float | None], zscore: float, hold: float) -> list[bool]:
    return ar.firing([v is not None and v > zscore for v in values], 1, hold)


def false_rates(rule: ar.ConversionRule, plan: Plan, zscores: Sequence[float]) -> list[FalseRate]:
    """Episodes in months without any incident, per shop and z threshold."""
    out = []
    for size in SIZES:
        for rate in RATES:
            counts = dict.fromkeys(zscores, 0)
            for seed in range(plan.seeds):
                minutes = WARMUP + plan.months_per_seed * MONTH
                values = evidence(
                    rule, Shop(size, rate), minutes, seed * 7919 + size + int(rate * 1e4)
                )
                for z in zscores:
                    counts[z] += len(ar.episodes(fired(values, z, rule.hold)))
            out.append(FalseRate(size, rate, plan.seeds * plan.months_per_seed, counts))
            print(f"  false episodes {size}/h {rate:.0%}: {counts}", file=sys.stderr, flush=True)
    return out


def _moment(rng: random.Random) -> int:
    """A weekday minute between 09:00 and 21:00 after the warm-up."""
    day = rng.randrange(0, 5)
    return (
        WARMUP
        - WARMUP % WEEK_MINUTES
        + WEEK_MINUTES
        + day * MINUTES_PER_DAY
        + rng.randrange(9 * 60, 21 * 60)
    )


def delays(
    rule: ar.ConversionRule,
    kind: str,
    per_hour: float,
    trials: int,
    zscores: Sequence[float],
    horizon: int = 6 * 60,
) -> dict[float, list[float | None]]:
    """Minutes from the change to the first firing evaluation, per z threshold (None: not in
    ``horizon``). The shop converts 3 % and is sized so ``per_hour`` conversions are expected
    at the moment of the change."""
    factor = {"stop": 0.0, "halve": 0.5}[kind]
    out: dict[float, list[float | None]] = {z: [] for z in zscores}
    for trial in range(trials):
        rng = random.Random(f"{kind}-{per_hour}-{trial}")
        at = _moment(rng)
        shop = Shop(1.0, 0.03)
        shop = Shop(per_hour / shop.expected_conversions_per_hour(at), 0.03)

        def change(minute: int, mu: float, p: float, at: int = at) -> tuple[float, float]:
            return mu, p * factor if minute >= at else p

        values = evidence(rule, shop, at + horizon, trial, change, start=at)
        for z in zscores:
            states = fired(values, z, rule.hold)
            out[z].append(next((float(i) for i, s in enumerate(states) if s), None))
    return out


def traffic_only(rule: ar.ConversionRule, trials: int) -> dict[str, tuple[int, int]]:
    """(trials that fired, trials) for traffic changes at an unchanged conversion rate."""
    kinds: dict[str, Callable[[float], float]] = {
        "dip to 40 %": lambda mu: mu * 0.4,
        "campaign x3": lambda mu: mu * 3,
    }
    out = {}
    for name, scale in kinds.items():
        hits = 0
        for trial in range(trials):
            rng = random.Random(f"{name}-{trial}")
            at = _moment(rng)
            shop = Shop(rng.choice(SIZES), rng.choice(RATES))

            def change(
                minute: int,
                mu: float,
                p: float,
                at: int = at,
                scale: Callable[[float], float] = scale,
            ) -> tuple[float, float]:
                return (scale(mu) if at <= minute < at + 4 * 60 else mu), p

            values = evidence(rule, shop, at + 8 * 60, trial, change, start=at)
            hits += any(fired(values, rule.zscore, rule.hold))
        out[name] = (hits, trials)
    return out


def summary(values: Sequence[float | None]) -> tuple[float | None, float | None, float]:
    """(median, 90th percentile, share detected): undetected trials count as infinitely late."""
    ordered = sorted(math.inf if v is None else v for v in values)
    median = ordered[min(len(ordered) - 1, len(ordered) // 2)]
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    found = sum(v is not None for v in values) / len(values)
    return (None if math.isinf(median) else median, None if math.isinf(p90) else p90, found)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer months and trials")
    parser.add_argument("--output", type=Path, default=ALERTS_MD, help="ALERTS.md to update")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    rules = ar.load_rules()
    rule = ar.conversion_rule(rules)
    zscores = sorted({3.25, 3.5, 3.75, 4.0, 4.25, 4.5, rule.zscore})
    began = time.monotonic()
    results: dict[str, Any] = {
        "plan": plan,
        "rule": rule,
        "false": false_rates(rule, plan, zscores),
        "stop": {
            lvl: delays(rule, "stop", lvl, plan.trials, zscores)
            for lvl in (5, 8, 11, 14, 17, 20, 30, 50)
        },
        "halve": {
            lvl: delays(rule, "halve", lvl, plan.trials, zscores, 8 * 60)
            for lvl in (10, 15, 20, 25, 30, 50)
        },
        "traffic_only": traffic_only(rule, plan.trials),
        "traffic": traffic_study(ar.traffic_rule(rules), plan.seeds * plan.months_per_seed),
        "consent": consent_study(ar.consent_rule(rules), plan.seeds * plan.months_per_seed),
    }
    results["seconds"] = time.monotonic() - began
    results["quick"] = args.quick
    write_report(args.output, results, summary)
    print(f"wrote {args.output} ({results['seconds'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
