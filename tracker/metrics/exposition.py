"""Prometheus exposition: a custom collector rendering state at scrape time.

Only partitions the worker actively owns are rendered (never standby
copies), and every counter carries its ``partition`` label: a partition's
totals move with its state between workers, so ``sum()`` stays exact.
Names, help texts and label names come from ``tracker.metrics.catalogue``.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from tracker.core.accounts import PEOPLE_BUCKETS, AccountProcessor
from tracker.core.aggregates import SEP, Aggregates
from tracker.core.bots import RULES
from tracker.core.contract import CHANNELS, EVENT_TYPES
from tracker.core.labels import WINDOWS
from tracker.core.partition import ERASURE_REASONS, PartitionProcessor
from tracker.core.sessionizer import SENTIMENT_BUCKETS
from tracker.core.windows import ratio, window_label, window_sum
from tracker.metrics.catalogue import (
    DROP_REASONS,
    INTERNAL_REASONS,
    LANGUAGES,
    REJECT_REASONS,
    SCRAPE_PARTS,
    SESSION_OUTCOMES,
    UndeclaredMetricError,
    of_process,
    undeclared,
)
from tracker.metrics.experience import (
    EXPERIENCE_ZEROS,
    experience_gauges,
    experience_histograms,
)
from tracker.metrics.experiment_gauges import experiment_gauges
from tracker.metrics.families import counter, gauge, histogram
from tracker.metrics.families import gauge_of as _gauge
from tracker.metrics.windowed import (
    feedback_gauges,
    funnel_gauges,
    order_gauges,
    previous_gauges,
    revenue_micros,
    session_gauges,
)

# The reasons and outcomes are declared in the catalogue and still importable from here.
__all__ = [
    "ACCOUNT_COUNTERS",
    "CHECK_DECLARED",
    "INTERNAL_REASONS",
    "PARTITION_COUNTERS",
    "REJECT_REASONS",
    "SESSION_OUTCOMES",
    "ZEROS",
    "StateExporter",
    "UndeclaredCheck",
    "WorkerView",
    "account_metrics",
    "counter",
    "gauge",
    "histogram",
    "revenue_micros",
    "revenue_total",
]

log = logging.getLogger("tracker.metrics")

_CHANNEL_SERIES = tuple((c,) for c in CHANNELS)
# Label values exported as 0 before any data, so rate() and absent() work from the start.
ZEROS: dict[str, tuple[tuple[str, ...], ...]] = {
    "tracker_events_total": tuple((t, c) for t in EVENT_TYPES for c in CHANNELS),
    "tracker_events_rejected_total": tuple((r,) for r in REJECT_REASONS),
    "tracker_events_dropped_total": tuple((r,) for r in DROP_REASONS),
    "tracker_events_late_total": ((),),
    "tracker_events_received_total": ((),),
    "tracker_consent_withdrawals_total": ((),),
    **{f"tracker_sessions_{outcome}_total": _CHANNEL_SERIES for outcome in SESSION_OUTCOMES},
    "tracker_orders_total": _CHANNEL_SERIES,
    "tracker_erasures_total": tuple((r,) for r in ERASURE_REASONS),
    "tracker_account_activity_invalid_total": ((),),
    "tracker_hot_customers_total": ((),),  # zero until a customer fills its dedup memory
    "tracker_bot_events_total": tuple((r,) for r in RULES),
    "tracker_events_rerouted_total": ((),),
    # Identity stitching (docs/identity.md): zero until the first identify.
    "tracker_sessions_merged_total": _CHANNEL_SERIES,
    "tracker_sessions_discarded_total": _CHANNEL_SERIES,
    **dict.fromkeys(
        (
            "tracker_identity_links_total",
            "tracker_identity_conflicts_total",
            "tracker_events_forwarded_total",
            "tracker_identity_records_invalid_total",
        ),
        ((),),
    ),
    **EXPERIENCE_ZEROS,
}
# The account stage's counters; every other counter fed by its own key is a partition's.
ACCOUNT_COUNTERS = (
    "tracker_account_first_order_channels_total",
    "tracker_account_activity_invalid_total",
)
PARTITION_COUNTERS = tuple(
    s.name
    for s in of_process("worker")
    if s.kind == "counter" and s.keys == (s.name,) and s.name not in ACCOUNT_COUNTERS
)


def _sample_name(counter_name: str) -> str:
    """The name of a counter family's samples (prometheus-client appends ``_total``)."""
    return counter_name if counter_name.endswith("_total") else f"{counter_name}_total"


# What a scrape for partition counters alone may ask for (``StateExporter.collect_named``).
PARTITION_COUNTER_SAMPLES = frozenset(_sample_name(name) for name in PARTITION_COUNTERS)


@dataclass(slots=True)
class UndeclaredCheck:
    """Counter keys nothing exports: raise when strict (tests), else log each name once."""

    strict: bool = False
    reported: set[str] = field(default_factory=set)

    def __call__(self, keys: Iterable[str]) -> None:
        for name in sorted(undeclared(keys)):
            if self.strict:
                raise UndeclaredMetricError(f"counter key {name!r} is not declared: not exported")
            if name not in self.reported:
                self.reported.add(name)
                log.error("counter %s is updated but not declared, so never exported", name)


# One per process: a scrape every few seconds must not log the same name again.
CHECK_DECLARED = UndeclaredCheck()


@dataclass(frozen=True, slots=True)
class WorkerView:
    """What the collector may read: the active partitions, a clock, the input's and the
    identity topic's consumer lag."""

    partitions: Callable[[], Mapping[int, PartitionProcessor]]
    now_ms: Callable[[], int]
    consumer_lag: Callable[[int], int | None]
    identity_lag: Callable[[int], int | None]
    funnel: tuple[str, ...]
    repurchase_seconds: float
    accounts: Callable[[], Mapping[int, AccountProcessor]] = dict
    currencies: tuple[str, ...] = ()


class StateExporter(Collector):
    def __init__(self, view: WorkerView) -> None:
        self.view = view
        self.scrape_errors: dict[str, int] = dict.fromkeys(SCRAPE_PARTS, 0)

    def collect(self) -> Iterator[Metric]:
        """Each part rendered whole or left out: one failing part never blanks the scrape."""
        return self.collect_named(None)

    def collect_named(self, names: frozenset[str] | None) -> Iterator[Metric]:
        """``collect``, building only what may hold samples named ``names`` (None: all).

        A scrape for partition counters alone (``/metrics?name[]=...``: a poller watching
        progress) then skips the windowed gauges, most of a scrape's time. The caller
        still drops the samples not asked for.
        """
        parts = dict(self.view.partitions())
        counters_only = names is not None and names <= PARTITION_COUNTER_SAMPLES
        builders: dict[str, Callable[[], Iterable[Metric]]] = {
            "counters": lambda: self._counters(parts, names if counters_only else None),
        }
        if not counters_only:
            builders["gauges"] = lambda: self._gauges(parts)
            builders["accounts"] = lambda: account_metrics(dict(self.view.accounts()))
        for part, build in builders.items():
            try:
                families = list(build())
            except UndeclaredMetricError:
                raise  # strict mode (tests): an undeclared metric must fail loudly
            except Exception as exc:
                self._failed(part, exc)
                continue
            yield from families
        errors = counter("tracker_scrape_errors_total")
        for part, n in self.scrape_errors.items():
            errors.add_metric([part], n)
        yield errors

    def _failed(self, part: str, exc: Exception) -> None:
        if not self.scrape_errors[part]:
            # Once per part: a scrape every few seconds would flood the log.
            log.error(
                "scrape: the %s part failed (%s) and is left out of /metrics\n%s",
                part,
                type(exc).__name__,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
        self.scrape_errors[part] += 1

    # --- counters ---------------------------------------------------------------
    def _counters(
        self, parts: Mapping[int, PartitionProcessor], only: frozenset[str] | None = None
    ) -> Iterator[Metric]:
        """``only``: partition counters' sample names, the only families to build."""
        families = {
            name: counter(name)
            for name in PARTITION_COUNTERS
            if only is None or _sample_name(name) in only
        }
        revenue = counter("tracker_revenue_total")
        # One family for both languages: a second family of the same name is invalid.
        sentiment = histogram("tracker_feedback_sentiment_score")
        grouped: dict[int, dict[str, dict[tuple[str, ...], int]]] = {}
        for partition, processor in sorted(parts.items()):
            agg = processor.aggregates
            p = str(partition)
            values = grouped[partition] = _by_metric(agg.counters)
            for name, family in families.items():
                series = values.get(name, {})
                for default in ZEROS.get(name, ()):
                    series.setdefault(default, 0)
                for series_labels, n in sorted(series.items()):
                    family.add_metric([*series_labels, p], n)
            if only is not None:
                continue
            for currency, amount in sorted(agg.revenue.items()):
                revenue.add_metric([currency, p], float(amount))
            for lang in LANGUAGES:
                scores = values.get("tracker_feedback_sentiment_score", {})
                buckets = _sentiment_buckets(scores, lang)
                if buckets is not None:
                    milli = agg.counter(f"tracker_feedback_sentiment_score_milli{SEP}{lang}")
                    sentiment.add_metric([lang, p], buckets, sum_value=milli / 1000)
        yield from families.values()
        if only is None:
            yield revenue
            yield sentiment
            yield from experience_histograms(grouped)

    # --- gauges -----------------------------------------------------------------
    def _gauges(self, parts: Mapping[int, PartitionProcessor]) -> Iterator[Metric]:
        aggs = [p.aggregates for p in parts.values()]
        now = self.view.now_ms()
        ref = max((p.watermark_ms for p in parts.values()), default=0)
        yield _gauge("tracker_reference_time_seconds", [([], ref / 1000)])
        active = gauge("tracker_sessions_active")
        for index, channel in enumerate(CHANNELS):
            active.add_metric(
                [channel], sum(p.active_sessions.get(index, 0) for p in parts.values())
            )
        yield active
        reach = gauge("tracker_reach")
        for window, seconds in WINDOWS.items():
            for channel in (*CHANNELS, "all"):
                reach.add_metric(
                    [window, channel], window_sum(aggs, f"reach:{channel}", ref, seconds)
                )
        yield reach
        yield from session_gauges(aggs, ref)
        yield from order_gauges(aggs, ref, self.view.currencies)
        yield from previous_gauges(aggs, ref, self.view.currencies)
        yield from feedback_gauges(aggs, ref)
        yield from self._repurchase(aggs, ref)
        yield from self._funnel(aggs)
        yield from funnel_gauges(aggs, ref, self.view.funnel)
        yield from experience_gauges(aggs, ref, self.view.repurchase_seconds)
        if parts:  # the allow-list and the effect to detect are the partitions' settings
            rules = next(iter(parts.values())).rules
            yield from experiment_gauges(aggs, rules.labels.experiments, rules.experience.mde)
        lag = gauge("tracker_watermark_lag_seconds")
        consumer = gauge("tracker_consumer_lag")
        identity_lag = gauge("tracker_identity_lag")
        held = gauge("tracker_identity_held_events")
        kept = gauge("tracker_identity_records_unacknowledged")
        for partition, processor in sorted(parts.items()):
            p = str(partition)
            wm = processor.watermark_ms
            lag.add_metric([p], (now - wm) / 1000 if wm else float("nan"))
            for family, behind in (
                (consumer, self.view.consumer_lag(partition)),
                (identity_lag, self.view.identity_lag(partition)),
            ):
                if behind is not None:
                    family.add_metric([p], behind)
            held.add_metric([p], processor.held_events)
            kept.add_metric([p], processor.identity.unacknowledged_records())
        yield from (lag, consumer, identity_lag, held, kept)
        yield _gauge("tracker_partitions_assigned", [([], len(parts))])

    def _repurchase(self, aggs: list[Aggregates], ref: int) -> Iterator[Metric]:
        seconds = int(self.view.repurchase_seconds)
        label = window_label(seconds)
        buyers = window_sum(aggs, "rep:1", ref, seconds)
        repeat = window_sum(aggs, "rep:2", ref, seconds)
        yield _gauge("tracker_repurchase_customers_window", [([label], buyers)])
        yield _gauge("tracker_repurchase_repeat_customers_window", [([label], repeat)])
        yield _gauge("tracker_repurchase_rate", [([label], ratio(repeat, buyers))])

    def _funnel(self, aggs: list[Aggregates]) -> Iterator[Metric]:
        steps = self.view.funnel
        counts = [
            sum(a.counter(f"tracker_funnel_sessions_total{SEP}{step}") for a in aggs)
            for step in steps
        ]
        drop = gauge("tracker_funnel_dropoff_ratio")
        for i in range(1, len(steps)):
            drop.add_metric([steps[i]], 1 - ratio(counts[i], counts[i - 1]))
        yield drop


def _by_metric(counters: Mapping[str, int]) -> dict[str, dict[tuple[str, ...], int]]:
    """Counter values by metric name, then label values; undeclared names are reported."""
    values: dict[str, dict[tuple[str, ...], int]] = {}
    for key, n in counters.items():
        metric, *label_values = key.split(SEP)
        values.setdefault(metric, {})[tuple(label_values)] = n
    CHECK_DECLARED(values)
    return values


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
    families = {name: counter(name) for name in ACCOUNT_COUNTERS}
    for partition, processor in sorted(accounts.items()):
        values = _by_metric(processor.aggregates.counters)
        for name, family in families.items():
            series = values.get(name, {})
            for default in ZEROS.get(name, ()):
                series.setdefault(default, 0)
            for labels, n in sorted(series.items()):
                family.add_metric([*labels, str(partition)], n)
    yield from families.values()
    active = {w: window_sum(aggs, "acct:reach", ref, s) for w, s in WINDOWS.items()}
    ordered = {w: window_sum(aggs, "acct:order", ref, s) for w, s in WINDOWS.items()}
    yield _gauge("tracker_account_reach", [([w], v) for w, v in active.items()])
    yield _gauge("tracker_account_converted_window", [([w], v) for w, v in ordered.items()])
    yield _gauge(
        "tracker_account_conversion_rate",
        [([w], ratio(ordered[w], active[w])) for w in WINDOWS],
    )
    # A cumulative distribution as plain gauges: text format 0.0.4 has no gauge histograms.
    people = gauge("tracker_accounts_by_people")
    for window, seconds in WINDOWS.items():
        cumulative = 0
        for bound in (*PEOPLE_BUCKETS, "+Inf"):
            cumulative += window_sum(aggs, f"acct:people:{bound}", ref, seconds)
            people.add_metric([window, str(bound)], cumulative)
    yield people


def revenue_total(aggs: list[Aggregates], currency: str) -> Decimal:
    return sum((a.revenue.get(currency, Decimal(0)) for a in aggs), Decimal(0))
