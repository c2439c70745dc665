"""Prometheus exposition: a custom collector rendering state at scrape time.

Only partitions the worker actively owns are rendered (never standby
copies), and every counter carries its ``partition`` label: a partition's
totals move with its state between workers, so ``sum()`` stays exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from tracker.core.accounts import PEOPLE_BUCKETS, AccountProcessor
from tracker.core.aggregates import SEP, Aggregates
from tracker.core.contract import CHANNELS, EVENT_TYPES
from tracker.core.labels import WINDOWS
from tracker.core.partition import PartitionProcessor
from tracker.core.sessionizer import SENTIMENT_BUCKETS
from tracker.core.windows import ratio, window_label, window_sum

SESSION_OUTCOMES = ("started", "closed", "bounced", "engaged", "interacted", "converted")
REJECT_REASONS = ("invalid_json", "invalid_event", "key_mismatch", "too_large", "future_timestamp")
# Not a client's fault: a message the tracker failed on. Dead-lettered too, and worth an alert.
INTERNAL_REASONS = ("internal_error",)

# name (without _total) -> (help, label names, label values to show as 0 before any data)
COUNTERS: dict[str, tuple[str, tuple[str, ...], tuple[tuple[str, ...], ...]]] = {
    "tracker_events": (
        "Events that passed the consent gate and de-duplication, by type and own channel",
        ("event_type", "channel"),
        tuple((t, c) for t in EVENT_TYPES for c in CHANNELS),
    ),
    "tracker_events_rejected": (
        "Malformed input sent to the dead-letter topic, by reason",
        ("reason",),
        tuple((r,) for r in REJECT_REASONS),
    ),
    "tracker_events_dropped": (
        "Events dropped without error: no consent or duplicate",
        ("reason",),
        (("no_consent",), ("duplicate",)),
    ),
    "tracker_events_late": ("Events older than the watermark minus the gap", (), ((),)),
    **{
        f"tracker_sessions_{outcome}": (
            f"Sessions {outcome}, by entry channel",
            ("channel",),
            tuple((c,) for c in CHANNELS),
        )
        for outcome in SESSION_OUTCOMES
    },
    "tracker_orders": (
        "Orders, by the order event's channel",
        ("channel",),
        tuple((c,) for c in CHANNELS),
    ),
    "tracker_journey_transitions": (
        "Transitions between consecutive touchpoints of closed sessions",
        ("from_touchpoint", "to_touchpoint"),
        (),
    ),
    "tracker_session_exits": ("Closed sessions by exit touchpoint", ("touchpoint",), ()),
    "tracker_erasures": (
        "Customers erased, by reason",
        ("reason",),
        (("withdrawal",), ("request",)),
    ),
    "tracker_nps_responses": ("NPS answers by category", ("category", "channel"), ()),
    "tracker_csat_responses": ("CSAT answers by score", ("score", "channel"), ()),
    "tracker_ces_responses": ("CES answers by score", ("score", "channel"), ()),
    "tracker_feedback_sentiment": (
        "Feedback comments by sentiment polarity",
        ("polarity", "language", "channel"),
        (),
    ),
    "tracker_funnel_sessions": ("Closed sessions reaching each funnel step", ("step",), ()),
    "tracker_sessions_multichannel": (
        "Closed sessions touching more than one channel, by entry channel",
        ("channel",),
        (),
    ),
    "tracker_conversions_last_channel": (
        "Converted sessions by the channel of the event just before the first order",
        ("channel",),
        (),
    ),
    "tracker_interactions": ("Interactions by action", ("action", "channel"), ()),
    "tracker_sessions_by_source": (
        "Closed sessions by traffic source (campaign/referrer only with marketing consent)",
        ("source",),
        (),
    ),
    "tracker_sessions_converted_by_source": (
        "Converted sessions by traffic source",
        ("source",),
        (),
    ),
    "tracker_control_ignored": ("Control messages the worker did not understand", (), ()),
}


@dataclass(frozen=True, slots=True)
class WorkerView:
    """What the collector may read: the active partitions, a clock, consumer lag."""

    partitions: Callable[[], Mapping[int, PartitionProcessor]]
    now_ms: Callable[[], int]
    consumer_lag: Callable[[int], int | None]
    funnel: tuple[str, ...]
    repurchase_seconds: float
    accounts: Callable[[], Mapping[int, AccountProcessor]] = dict
    currencies: tuple[str, ...] = ()


class StateExporter(Collector):
    def __init__(self, view: WorkerView) -> None:
        self.view = view

    def collect(self) -> Iterator[Metric]:
        parts = dict(self.view.partitions())
        yield from self._counters(parts)
        yield from self._gauges(parts)
        yield from account_metrics(dict(self.view.accounts()))

    # --- counters ---------------------------------------------------------------
    def _counters(self, parts: Mapping[int, PartitionProcessor]) -> Iterator[Metric]:
        families = {
            name: CounterMetricFamily(name, help_, labels=[*labels, "partition"])
            for name, (help_, labels, _) in COUNTERS.items()
        }
        revenue = CounterMetricFamily(
            "tracker_revenue", "Order revenue by currency", labels=["currency", "partition"]
        )
        # One family for both languages: a second family of the same name is invalid.
        sentiment = HistogramMetricFamily(
            "tracker_feedback_sentiment_score",
            "Compound sentiment score of feedback comments",
            labels=["language", "partition"],
        )
        for partition, processor in sorted(parts.items()):
            agg = processor.aggregates
            p = str(partition)
            values: dict[str, dict[tuple[str, ...], int]] = {}
            for key, n in agg.counters.items():
                metric, *label_values = key.split(SEP)
                values.setdefault(metric.removesuffix("_total"), {})[tuple(label_values)] = n
            for name, (_, _, defaults) in COUNTERS.items():
                series = values.get(name, {})
                for default in defaults:
                    series.setdefault(default, 0)
                for series_labels, n in sorted(series.items()):
                    families[name].add_metric([*series_labels, p], n)
            for currency, amount in sorted(agg.revenue.items()):
                revenue.add_metric([currency, p], float(amount))
            for lang in ("de", "en"):
                scores = values.get("tracker_feedback_sentiment_score", {})
                buckets = _sentiment_buckets(scores, lang)
                if buckets is not None:
                    milli = agg.counter(f"tracker_feedback_sentiment_score_milli{SEP}{lang}")
                    sentiment.add_metric([lang, p], buckets, sum_value=milli / 1000)
        yield from families.values()
        yield revenue
        yield sentiment

    # --- gauges -----------------------------------------------------------------
    def _gauges(self, parts: Mapping[int, PartitionProcessor]) -> Iterator[Metric]:
        aggs = [p.aggregates for p in parts.values()]
        now = self.view.now_ms()
        ref = max((p.watermark_ms for p in parts.values()), default=0)
        yield _gauge(
            "tracker_reference_time_seconds",
            "Event time the windows end at: the highest watermark of the active partitions",
            [([], ref / 1000)],
        )
        active = GaugeMetricFamily(
            "tracker_sessions_active", "Open sessions by entry channel", labels=["channel"]
        )
        for index, channel in enumerate(CHANNELS):
            active.add_metric(
                [channel], sum(p.active_sessions.get(index, 0) for p in parts.values())
            )
        yield active
        reach = GaugeMetricFamily(
            "tracker_reach",
            "Distinct consented customers with a counted event in the window",
            labels=["window", "channel"],
        )
        for window, seconds in WINDOWS.items():
            for channel in (*CHANNELS, "all"):
                reach.add_metric(
                    [window, channel], window_sum(aggs, f"reach:{channel}", ref, seconds)
                )
        yield reach
        yield from _rate_gauges(aggs, ref)
        yield from _revenue_gauges(aggs, ref, self.view.currencies)
        yield from _feedback_gauges(aggs, ref)
        yield from self._repurchase(aggs, ref)
        yield from self._funnel(aggs)
        lag = GaugeMetricFamily(
            "tracker_watermark_lag_seconds",
            "Wall clock minus the partition's watermark",
            labels=["partition"],
        )
        consumer = GaugeMetricFamily(
            "tracker_consumer_lag", "Messages not yet processed", labels=["partition"]
        )
        for partition, processor in sorted(parts.items()):
            wm = processor.watermark_ms
            lag.add_metric([str(partition)], (now - wm) / 1000 if wm else float("nan"))
            behind = self.view.consumer_lag(partition)
            if behind is not None:
                consumer.add_metric([str(partition)], behind)
        yield lag
        yield consumer
        yield _gauge(
            "tracker_partitions_assigned", "Input partitions this worker owns", [([], len(parts))]
        )

    def _repurchase(self, aggs: list[Aggregates], ref: int) -> Iterator[Metric]:
        seconds = int(self.view.repurchase_seconds)
        label = window_label(seconds)
        buyers = window_sum(aggs, "rep:1", ref, seconds)
        repeat = window_sum(aggs, "rep:2", ref, seconds)
        yield _gauge(
            "tracker_repurchase_customers_window",
            "Customers with at least one order in the window",
            [([label], buyers)],
            ["window"],
        )
        yield _gauge(
            "tracker_repurchase_repeat_customers_window",
            "Customers with at least two orders in the window",
            [([label], repeat)],
            ["window"],
        )
        yield _gauge(
            "tracker_repurchase_rate",
            "Customers with two or more orders / customers with one or more",
            [([label], ratio(repeat, buyers))],
            ["window"],
        )

    def _funnel(self, aggs: list[Aggregates]) -> Iterator[Metric]:
        steps = self.view.funnel
        counts = [
            sum(a.counter(f"tracker_funnel_sessions_total{SEP}{step}") for a in aggs)
            for step in steps
        ]
        drop = GaugeMetricFamily(
            "tracker_funnel_dropoff_ratio",
            "Share of sessions reaching the previous funnel step but not this one",
            labels=["step"],
        )
        for i in range(1, len(steps)):
            drop.add_metric([steps[i]], 1 - ratio(counts[i], counts[i - 1]))
        yield drop


def _rate_gauges(aggs: list[Aggregates], ref: int) -> Iterator[Metric]:
    outcomes = ("closed", "bounced", "converted", "interacted", "engaged")
    sums = {
        (o, w): window_sum(aggs, f"sess:{o}", ref, s) for o in outcomes for w, s in WINDOWS.items()
    }
    for outcome in outcomes:
        yield _gauge(
            f"tracker_sessions_{outcome}_window",
            f"Sessions {outcome} among those closed in the window (by last event time)",
            [([w], sums[(outcome, w)]) for w in WINDOWS],
            ["window"],
        )
    names = {"bounced": "bounce", "converted": "conversion", "interacted": "interaction"}
    names["engaged"] = "engagement"
    for outcome, rate in names.items():
        yield _gauge(
            f"tracker_{rate}_rate",
            f"{outcome.capitalize()} sessions / closed sessions in the window",
            [([w], ratio(sums[(outcome, w)], sums[("closed", w)])) for w in WINDOWS],
            ["window"],
        )


def _revenue_gauges(
    aggs: list[Aggregates], ref: int, currencies: tuple[str, ...]
) -> Iterator[Metric]:
    revenue = GaugeMetricFamily(
        "tracker_revenue_window",
        "Order revenue with event time in the window, by currency",
        labels=["window", "currency"],
    )
    per_session = GaugeMetricFamily(
        "tracker_revenue_per_session",
        "Revenue in the window / sessions closed in the window",
        labels=["window", "currency"],
    )
    for window, seconds in WINDOWS.items():
        closed = window_sum(aggs, "sess:closed", ref, seconds)
        for currency in currencies:
            amount = window_sum(aggs, f"rev:{currency}", ref, seconds) / 100
            revenue.add_metric([window, currency], amount)
            per_session.add_metric([window, currency], ratio(round(amount * 100), closed) / 100)
    yield revenue
    yield per_session


def _feedback_gauges(aggs: list[Aggregates], ref: int) -> Iterator[Metric]:
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
        yield _gauge(
            f"tracker_{exported.get(name, name)}_window",
            f"Feedback {name.replace('_', ' ')} in the window",
            [([w], sums[(name, w)]) for w in WINDOWS],
            ["window"],
        )
    nps, csat, ces = [], [], []
    for w in WINDOWS:
        responses = sums[("nps_responses", w)]
        score = ratio(100 * (sums[("nps_promoters", w)] - sums[("nps_detractors", w)]), responses)
        nps.append(([w], score))
        csat.append(([w], ratio(sums[("csat_satisfied", w)], sums[("csat_responses", w)])))
        ces.append(([w], ratio(sums[("ces_sum", w)], sums[("ces_responses", w)])))
    yield _gauge("tracker_nps", "Net Promoter Score: % promoters - % detractors", nps, ["window"])
    yield _gauge("tracker_csat", "Share of CSAT answers of 4 or 5", csat, ["window"])
    yield _gauge("tracker_ces", "Mean customer-effort score", ces, ["window"])


def _gauge(
    name: str,
    help_: str,
    samples: list[tuple[list[str], float]],
    labels: list[str] | None = None,
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_, labels=labels or [])
    for label_values, value in samples:
        family.add_metric(label_values, value)
    return family


def _sentiment_buckets(
    series: dict[tuple[str, ...], int], language: str
) -> list[tuple[str, float]] | None:
    counts = {float(le): n for (lang, le), n in series.items() if lang == language}
    if not counts:
        return None
    cumulative, buckets = 0, []
    for bound in SENTIMENT_BUCKETS:
        cumulative += counts.get(bound, 0)
        buckets.append(
            ("+Inf" if bound == SENTIMENT_BUCKETS[-1] else str(bound), float(cumulative))
        )
    return buckets


def account_metrics(accounts: Mapping[int, AccountProcessor]) -> Iterator[Metric]:
    """B2B account KPIs from the account stage's partitions (each account lives on one)."""
    aggs = [a.aggregates for a in accounts.values()]
    ref = max((a.watermark_ms for a in accounts.values()), default=0)
    channels = CounterMetricFamily(
        "tracker_account_first_order_channels",
        "Accounts by the number of channels they touched up to their first order",
        labels=["channels", "partition"],
    )
    for partition, processor in sorted(accounts.items()):
        for key, n in sorted(processor.aggregates.counters.items()):
            metric, *labels = key.split(SEP)
            if metric == "tracker_account_first_order_channels_total":
                channels.add_metric([*labels, str(partition)], n)
    yield channels
    active = {w: window_sum(aggs, "acct:reach", ref, s) for w, s in WINDOWS.items()}
    ordered = {w: window_sum(aggs, "acct:order", ref, s) for w, s in WINDOWS.items()}
    yield _gauge(
        "tracker_account_reach",
        "Distinct B2B accounts with activity in the window",
        [([w], v) for w, v in active.items()],
        ["window"],
    )
    yield _gauge(
        "tracker_account_converted_window",
        "Accounts with an order in the window",
        [([w], v) for w, v in ordered.items()],
        ["window"],
    )
    yield _gauge(
        "tracker_account_conversion_rate",
        "Accounts with an order / accounts active in the window",
        [([w], ratio(ordered[w], active[w])) for w in WINDOWS],
        ["window"],
    )
    # A cumulative distribution as plain gauges: text format 0.0.4 has no gauge histograms.
    people = GaugeMetricFamily(
        "tracker_accounts_by_people",
        "Accounts active in the window with at most `people_le` people seen in the last 28 days",
        labels=["window", "people_le"],
    )
    for window, seconds in WINDOWS.items():
        cumulative = 0
        for bound in (*PEOPLE_BUCKETS, "+Inf"):
            cumulative += window_sum(aggs, f"acct:people:{bound}", ref, seconds)
            people.add_metric([window, str(bound)], cumulative)
    yield people


def revenue_total(aggs: list[Aggregates], currency: str) -> Decimal:
    return sum((a.revenue.get(currency, Decimal(0)) for a in aggs), Decimal(0))
