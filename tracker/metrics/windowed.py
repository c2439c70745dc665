"""Event-time window gauges: sessions, rates, orders, revenue, feedback and funnel per window.

Each rate comes with its numerator and denominator, so ``sum()/sum()`` over
workers is exact. Gauges by channel carry ``channel="all"`` for every channel
together: session figures by the session's entry channel, orders and revenue
by the order event's channel. The previous window (same length, just before)
is exported where the buckets reach back that far, for the overview's change.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from tracker.core.aggregates import Aggregates
from tracker.core.bounds import MICROS
from tracker.core.contract import CHANNELS
from tracker.core.labels import WINDOWS
from tracker.core.windows import previous_kept, previous_window_sum, ratio, window_sum
from tracker.metrics.families import gauge, gauge_of

OUTCOMES = ("closed", "bounced", "converted", "interacted", "engaged")
RATES = {
    "bounced": "bounce",
    "converted": "conversion",
    "interacted": "interaction",
    "engaged": "engagement",
}
WITH_ALL = (*CHANNELS, "all")
# Outcomes whose previous window the overview compares with (its headline cards).
PREVIOUS_OUTCOMES = ("closed", "bounced", "converted")


def _session_bucket(outcome: str, channel: str) -> str:
    return f"sess:{outcome}" if channel == "all" else f"sess:{outcome}:{channel}"


def session_gauges(aggs: list[Aggregates], ref: int) -> Iterator[Metric]:
    sums = {
        (o, w, c): window_sum(aggs, _session_bucket(o, c), ref, s)
        for o in OUTCOMES
        for w, s in WINDOWS.items()
        for c in WITH_ALL
    }
    for outcome in OUTCOMES:
        yield gauge_of(
            f"tracker_sessions_{outcome}_window",
            [([w, c], sums[(outcome, w, c)]) for w in WINDOWS for c in WITH_ALL],
        )
    for outcome, rate in RATES.items():
        yield gauge_of(
            f"tracker_{rate}_rate",
            [
                ([w, c], ratio(sums[(outcome, w, c)], sums[("closed", w, c)]))
                for w in WINDOWS
                for c in WITH_ALL
            ],
        )


def order_gauges(aggs: list[Aggregates], ref: int, currencies: tuple[str, ...]) -> Iterator[Metric]:
    orders = gauge("tracker_orders_window")
    revenue = gauge("tracker_revenue_window")
    per_session = gauge("tracker_revenue_per_session")
    for window, seconds in WINDOWS.items():
        by_channel = {c: window_sum(aggs, f"ord:{c}", ref, seconds) for c in CHANNELS}
        for channel, n in (*by_channel.items(), ("all", sum(by_channel.values()))):
            orders.add_metric([window, channel], n)
        closed = window_sum(aggs, "sess:closed", ref, seconds)
        for currency in currencies:
            micros = revenue_micros(aggs, currency, ref, seconds)
            for channel in CHANNELS:
                amount = window_sum(aggs, f"revu:{currency}:{channel}", ref, seconds)
                revenue.add_metric([window, currency, channel], amount / MICROS)
            revenue.add_metric([window, currency, "all"], micros / MICROS)
            per_session.add_metric([window, currency], ratio(micros, closed) / MICROS)
    yield orders
    yield revenue
    yield per_session


def revenue_micros(aggs: list[Aggregates], currency: str, ref: int, seconds: int) -> int:
    """Revenue of the window in millionths: ``revu:`` buckets, plus ``rev:`` cents of older rows."""
    cents = window_sum(aggs, f"rev:{currency}", ref, seconds)
    micros = window_sum(aggs, f"revu:{currency}", ref, seconds)
    return int(micros + cents * (MICROS // 100))


def previous_gauges(
    aggs: list[Aggregates], ref: int, currencies: tuple[str, ...]
) -> Iterator[Metric]:
    """The window before each window, where kept (not kept: no sample for that window)."""

    def before(name: str, seconds: int) -> int | None:
        return previous_window_sum(aggs, name, ref, seconds)

    kept = {w: s for w, s in WINDOWS.items() if previous_kept(s)}
    for outcome in PREVIOUS_OUTCOMES:
        yield gauge_of(
            f"tracker_sessions_{outcome}_previous_window",
            [([w], before(f"sess:{outcome}", s) or 0) for w, s in kept.items()],
        )
    yield gauge_of(
        "tracker_orders_previous_window",
        [([w], sum(before(f"ord:{c}", s) or 0 for c in CHANNELS)) for w, s in kept.items()],
    )
    revenue = gauge("tracker_revenue_previous_window")
    for window, seconds in kept.items():
        for currency in currencies:
            micros = before(f"revu:{currency}", seconds) or 0
            cents = before(f"rev:{currency}", seconds) or 0
            revenue.add_metric([window, currency], (micros + cents * (MICROS // 100)) / MICROS)
    yield revenue


def funnel_gauges(aggs: list[Aggregates], ref: int, steps: tuple[str, ...]) -> Iterator[Metric]:
    yield gauge_of(
        "tracker_funnel_sessions_window",
        [
            ([w, step], window_sum(aggs, f"fun:{step}", ref, s))
            for w, s in WINDOWS.items()
            for step in steps
        ],
    )
    # The order is a setting: exported, so a dashboard can sort by it instead of by name.
    yield gauge_of(
        "tracker_funnel_step_info",
        [([step, str(position)], 1) for position, step in enumerate(steps, start=1)],
    )


def feedback_gauges(aggs: list[Aggregates], ref: int) -> Iterator[Metric]:
    names = (
        "nps_promoters",
        "nps_detractors",
        "nps_responses",
        "csat_satisfied",
        "csat_responses",
        "ces_sum",
        "ces_responses",
    )
    sums = {(n, w): window_sum(aggs, f"fb:{n}", ref, s) for n in names for w, s in WINDOWS.items()}
    exported = {"ces_sum": "ces_score_sum"}
    for name in names:
        yield gauge_of(
            f"tracker_{exported.get(name, name)}_window",
            [([w], sums[(name, w)]) for w in WINDOWS],
        )
    nps, csat, ces = [], [], []
    for w in WINDOWS:
        responses = sums[("nps_responses", w)]
        score = ratio(100 * (sums[("nps_promoters", w)] - sums[("nps_detractors", w)]), responses)
        nps.append(([w], score))
        csat.append(([w], ratio(sums[("csat_satisfied", w)], sums[("csat_responses", w)])))
        ces.append(([w], ratio(sums[("ces_sum", w)], sums[("ces_responses", w)])))
    yield gauge_of("tracker_nps", nps)
    yield gauge_of("tracker_csat", csat)
    yield gauge_of("tracker_ces", ces)
