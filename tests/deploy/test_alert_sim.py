"""The fast part of ``make alert-sim``: the mirror is the rules, and the targets hold.

``tracker.testing.alert_rules`` evaluates the shipped rule files over years of
simulated minutes; here the same series go through ``promtool test rules`` and
must fire at exactly the same evaluation steps. Then a few scenarios of each
kind, and the committed ALERTS.md tables against the targets.
"""

from __future__ import annotations

import random
import re
import statistics
from pathlib import Path

import pytest

from tests.deploy.tools import REPO
from tracker.testing import alert_rules as ar
from tracker.testing.alert_model import (
    HOURLY_SHAPE,
    WEEKEND_FACTOR,
    Shop,
    event_counter,
    poisson,
    shape,
    shop_counters,
)
from tracker.testing.alert_promtool import firing_indices
from tracker.testing.alert_sim import FalseRate, Plan, delays, false_rates, traffic_only

pytestmark = pytest.mark.deploy

ALERTS_MD = REPO / "ALERTS.md"
LABELS = '{channel="web",partition="0"}'
STEP = 10  # minutes between samples in the promtool runs: eight days in ~1,150 steps


def test_the_curve_is_the_published_one() -> None:
    assert max(HOURLY_SHAPE) == 1.0
    assert 0.15 <= min(HOURLY_SHAPE) <= 0.20
    assert WEEKEND_FACTOR == 0.8
    assert shape(5 * 1440 + 20 * 60) == pytest.approx(0.8)  # Saturday 20:00
    published = ", ".join(f"{v:.2f}" for v in HOURLY_SHAPE).replace("0.17", "**0.17**")
    assert published.replace("1.00", "**1.00**") in " ".join(ALERTS_MD.read_text().split())


@pytest.mark.parametrize("mean", [0.3, 4.0, 37.0, 900.0])
def test_poisson_draws_have_the_mean_and_variance_of_a_poisson(mean: float) -> None:
    rng = random.Random(3)
    draws = [poisson(rng, mean) for _ in range(6000)]
    assert statistics.fmean(draws) == pytest.approx(mean, rel=0.06, abs=0.03)
    assert statistics.variance(draws) == pytest.approx(mean, rel=0.12, abs=0.05)


def _incident(minute: int, mu: float, p: float) -> tuple[float, float]:
    """Conversions stop for two hours on day 7 at noon, then run at half the rate."""
    start = 7 * 1440 + 12 * 60
    if start <= minute < start + 120:
        return mu, 0.0
    return mu, p / 2 if minute >= start + 240 else p


def test_conversion_mirror_fires_exactly_when_promtool_does(tmp_path: Path) -> None:
    rule = ar.conversion_rule(ar.load_rules())
    counters = shop_counters(Shop(2000, 0.03), 8 * 1440, 5, _incident)
    closed, converted = counters.closed[::STEP], counters.converted[::STEP]
    checks = range(7 * 144, len(closed))
    values = [ar.conversion_evidence(rule, closed, converted, STEP, i) for i in range(len(closed))]
    states = ar.firing([v is not None and v > rule.zscore for v in values], STEP, rule.hold)
    mirror = {i for i in checks if states[i]}
    series = {
        f"tracker_sessions_closed_total{LABELS}": closed,
        f"tracker_sessions_converted_total{LABELS}": converted,
    }
    assert len(mirror) > 20, "the scenario must fire, or it proves nothing"
    assert firing_indices(tmp_path, series, STEP, "ConversionRateDrop", checks) == mirror


def test_traffic_mirror_fires_exactly_when_promtool_does(tmp_path: Path) -> None:
    rule = ar.traffic_rule(ar.load_rules())
    stop = 7 * 1440 + 14 * 60
    events = event_counter(
        lambda m: 0.0 if stop <= m < stop + 90 else 20 * shape(m), 5, 8 * 1440, random.Random(2)
    )[::STEP]
    checks = range(7 * 144, len(events))
    states = ar.firing(
        [ar.traffic_condition(rule, events, STEP, i) for i in range(len(events))], STEP, rule.hold
    )
    mirror = {i for i in checks if states[i]}
    series = {f'tracker_events_total{{event_type="page_view",{LABELS[1:]}': events}
    assert mirror, "the scenario must fire"
    assert firing_indices(tmp_path, series, STEP, "TrafficStopped", checks) == mirror


def test_a_few_scenarios_meet_the_targets() -> None:
    rule = ar.conversion_rule(ar.load_rules())
    stops = delays(rule, "stop", 30, 3, [rule.zscore], horizon=90)[rule.zscore]
    assert all(d is not None and d <= 60 for d in stops), stops
    halvings = delays(rule, "halve", 50, 3, [rule.zscore], horizon=240)[rule.zscore]
    assert all(d is not None and d <= 180 for d in halvings), halvings
    assert all(hit == 0 for hit, _ in traffic_only(rule, 2).values())


def test_a_quiet_month_at_a_mid_sized_shop_has_no_false_episode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tracker.testing.alert_sim as sim

    monkeypatch.setattr(sim, "SIZES", (1_000,))
    monkeypatch.setattr(sim, "RATES", (0.03,))
    rule = ar.conversion_rule(ar.load_rules())
    (result,) = false_rates(rule, Plan(months_per_seed=1, seeds=1, trials=0), [rule.zscore])
    assert isinstance(result, FalseRate)
    assert result.episodes[rule.zscore] == 0


def test_alerts_md_holds_a_run_of_the_shipped_rules_that_meets_the_targets() -> None:
    rule = ar.conversion_rule(ar.load_rules())
    text = ALERTS_MD.read_text(encoding="utf-8")
    results = text.split("<!-- alert-sim:start -->")[1].split("<!-- alert-sim:end -->")[0]
    assert f"z threshold {rule.zscore:g}, for {rule.hold:g} min" in results, "run make alert-sim"
    assert "--quick" not in results.split("\n")[1], "ALERTS.md must hold a full run"
    false_table = results.split("false episodes per 30 days")[1].split("**")[1]
    uppers = [float(u) for u in re.findall(r"to (\d+\.\d+)\)", false_table)]
    assert len(uppers) == 15
    assert max(uppers) <= 1.0, "the 95 % upper bound of every shop stays at 1 per 30 days"
    assert "fired in 0 of" in results and "fired in 1" not in results
