"""Every metric the tracker exports, declared once: name, type, help, labels, process.

Names, types, label names and help texts are a public interface (dashboards,
alerts, operators' queries): exposition and the collector build their
families from these declarations, and a counter key in a partition's
aggregates that no declaration exports is a bug the exporter reports.

Pure: no prometheus_client here, so documentation and the CLI can read it.
"""

from __future__ import annotations

from collections.abc import Iterable

from tracker.core.accounts import PEOPLE_BUCKETS
from tracker.core.contract import CHANNELS, EVENT_TYPES
from tracker.core.customer import SOURCES
from tracker.core.labels import NPS_CATEGORIES, WINDOWS
from tracker.core.partition import ERASURE_REASONS
from tracker.metrics.experience_specs import experience_counters, experience_gauges
from tracker.metrics.intake_metrics import collector_intake_metrics, intake_counters
from tracker.metrics.privacy_metrics import privacy_counters, privacy_gauges

# Defined in tracker.metrics.specs, importable from here where every metric is declared.
from tracker.metrics.specs import Kind as Kind
from tracker.metrics.specs import Label as Label
from tracker.metrics.specs import MetricSpec as MetricSpec
from tracker.metrics.specs import Process as Process
from tracker.metrics.specs import UndeclaredMetricError as UndeclaredMetricError
from tracker.metrics.specs import tables
from tracker.metrics.stitching import identity_counters, identity_gauges, stitched_sessions

SESSION_OUTCOMES = ("started", "closed", "bounced", "engaged", "interacted", "converted")
REJECT_REASONS = ("invalid_json", "invalid_event", "key_mismatch", "too_large", "future_timestamp")
# Not a client's fault: a message the tracker failed on. Dead-lettered too, and worth an alert.
INTERNAL_REASONS = ("internal_error",)
DROP_REASONS = ("no_consent", "duplicate", "bot")
LANGUAGES = ("de", "en")
POLARITIES = ("positive", "negative", "neutral")
COLLECTOR_OUTCOMES = ("accepted", "rejected", "no_consent", "bot", "unavailable")
# Every status POST /v1/events and its preflight answer with (see tracker.collector.app).
COLLECTOR_CODES = ("202", "204", "400", "403", "413", "415", "429", "503")
# The worker's Faust tables (tracker.kafka.topics names them; importing it would pull Kafka in).
STATE_TABLES = ("tracker-state", "tracker-accounts")
# The parts a worker's scrape is built from; one failing part leaves the others served.
SCRAPE_PARTS = ("counters", "gauges", "accounts")


PARTITION = Label("partition", source="input partitions this worker owns (never standby copies)")
CHANNEL = Label("channel", CHANNELS)
# A window gauge by channel: "all" is every channel, so sum(x{channel="all"}) is the total.
CHANNEL_ALL = Label("channel", (*CHANNELS, "all"))
WINDOW = Label("window", tuple(WINDOWS))
LOOKBACK = Label("window", source="TRACKER_REPURCHASE_LOOKBACK as a window (90d)")
CURRENCY = Label("currency", source="TRACKER_CURRENCIES, else other")
TOUCHPOINTS = "TRACKER_TOUCHPOINTS allow-list (cut at the first ':'), else other"
TOUCHPOINT = Label("touchpoint", source=TOUCHPOINTS)
ACTION = Label("action", source="TRACKER_ACTIONS allow-list, else other")
STEP = Label("step", source="TRACKER_FUNNEL steps")
LANGUAGE = Label("language", LANGUAGES)


def _counter(name: str, help_: str, *labels: Label) -> MetricSpec:
    """A partition's counter: carries ``partition``, fed by the counter key of its name."""
    return MetricSpec(name, "counter", help_, (*labels, PARTITION), keys=(name,))


def _gauge(name: str, help_: str, *labels: Label) -> MetricSpec:
    return MetricSpec(name, "gauge", help_, labels)


def _windowed(name: str, help_: str, window: Label = WINDOW) -> MetricSpec:
    return MetricSpec(name, "gauge", help_, (window,))


# long: a list of declarations, one per metric, in the order they are exported.
def _counters() -> tuple[MetricSpec, ...]:
    c = _counter
    scores = {
        kind: Label("score", tuple(map(str, range(1, top + 1))))
        for kind, top in (("csat", 5), ("ces", 7))
    }
    source = Label("source", SOURCES)
    erasure, category = Label("reason", ERASURE_REASONS), Label("category", NPS_CATEGORIES)
    events_help = "Events that passed the consent gate and de-duplication, by type and own channel"
    by_source = "Closed sessions by traffic source (campaign/referrer only with marketing consent)"
    return (
        c("tracker_events_total", events_help, Label("event_type", EVENT_TYPES), CHANNEL).with_note(
            "Consent grants included."
        ),
        c(
            "tracker_events_rejected_total",
            "Malformed input sent to the dead-letter topic, by reason",
            Label("reason", (*REJECT_REASONS, *INTERNAL_REASONS)),
        ),
        c(
            "tracker_events_dropped_total",
            "Events dropped without error: no consent, duplicate or bot",
            Label("reason", DROP_REASONS),
        ),
        c("tracker_events_late_total", "Events older than the watermark minus the gap"),
        c(
            "tracker_events_received_total",
            "Items the worker received: each event of a message, or the message once when it "
            "could not be read as events",
        ).with_note(
            "received = events + rejected + dropped + consent withdrawals "
            "(docs/metrics.md#conservation)."
        ),
        c(
            "tracker_consent_withdrawals_total",
            "Consent events with analytics: false that were applied (duplicates are dropped)",
        ),
        *(
            c(f"tracker_sessions_{outcome}_total", f"Sessions {outcome}, by entry channel", CHANNEL)
            for outcome in SESSION_OUTCOMES
        ),
        *stitched_sessions(c, CHANNEL),
        c("tracker_orders_total", "Orders, by the order event's channel", CHANNEL),
        c(
            "tracker_journey_transitions_total",
            "Transitions between consecutive touchpoints of closed sessions",
            Label("from_touchpoint", source=TOUCHPOINTS),
            Label("to_touchpoint", source=TOUCHPOINTS),
        ),
        c("tracker_session_exits_total", "Closed sessions by exit touchpoint", TOUCHPOINT),
        c("tracker_erasures_total", "Customers erased, by reason", erasure),
        c("tracker_nps_responses_total", "NPS answers by category", category, CHANNEL),
        c("tracker_csat_responses_total", "CSAT answers by score", scores["csat"], CHANNEL),
        c("tracker_ces_responses_total", "CES answers by score", scores["ces"], CHANNEL),
        c(
            "tracker_feedback_sentiment_total",
            "Feedback comments by sentiment polarity",
            Label("polarity", POLARITIES),
            LANGUAGE,
            CHANNEL,
        ),
        c("tracker_funnel_sessions_total", "Closed sessions reaching each funnel step", STEP),
        c(
            "tracker_sessions_multichannel_total",
            "Closed sessions touching more than one channel, by entry channel",
            CHANNEL,
        ),
        c(
            "tracker_conversions_last_channel_total",
            "Converted sessions by the channel of the event just before the first order",
            CHANNEL,
        ),
        c("tracker_interactions_total", "Interactions by action", ACTION, CHANNEL),
        c("tracker_sessions_by_source_total", by_source, source),
        c(
            "tracker_sessions_converted_by_source_total",
            "Converted sessions by traffic source",
            source,
        ),
        c("tracker_control_ignored_total", "Control messages the worker did not understand"),
        *intake_counters(c),
        *identity_counters(c),
        *privacy_counters(c),
        *experience_counters(c, TOUCHPOINT, PARTITION),
        # Revenue is summed in Decimal beside the counters, under no counter key.
        MetricSpec(
            "tracker_revenue_total",
            "counter",
            "Order revenue by currency",
            (CURRENCY, PARTITION),
            note="Summed exactly, as Decimal.",
        ),
        MetricSpec(
            "tracker_feedback_sentiment_score",
            "histogram",
            "Compound sentiment score of feedback comments",
            (LANGUAGE, PARTITION),
            # Per-bucket counts, and the sum in thousandths (counters are integers).
            keys=("tracker_feedback_sentiment_score", "tracker_feedback_sentiment_score_milli"),
        ),
    )


# long: a list of declarations, one per metric, in the order they are exported.
def _gauges() -> tuple[MetricSpec, ...]:
    g, w = _gauge, _windowed
    rates = {"bounced": "bounce", "converted": "conversion", "interacted": "interaction"}
    rates["engaged"] = "engagement"
    # Exported name -> the bucket name the help text has always read.
    feedback = {name: name for name in ("nps_promoters", "nps_detractors", "nps_responses")}
    feedback |= {name: name for name in ("csat_satisfied", "csat_responses")}
    feedback |= {"ces_score_sum": "ces_sum", "ces_responses": "ces_responses"}
    closed = "among those closed in the window (by last event time)"
    by_entry = "channel: the session's entry channel; all: every channel."
    revenue = "Order revenue with event time in the window, by currency"
    return (
        g(
            "tracker_reference_time_seconds",
            "Event time the windows end at: the highest watermark of the active partitions",
        ),
        g("tracker_sessions_active", "Open sessions by entry channel", CHANNEL),
        g(
            "tracker_reach",
            "Distinct consented customers with a counted event in the window",
            WINDOW,
            CHANNEL_ALL,
        ),
        *(
            g(
                f"tracker_sessions_{o}_window", f"Sessions {o} {closed}", WINDOW, CHANNEL_ALL
            ).with_note(by_entry)
            for o in ("closed", *rates)
        ),
        *(
            g(
                f"tracker_{rate}_rate",
                f"{outcome.capitalize()} sessions / closed sessions in the window",
                WINDOW,
                CHANNEL_ALL,
            ).with_note(by_entry)
            for outcome, rate in rates.items()
        ),
        g(
            "tracker_orders_window",
            "Orders with event time in the window, by the order event's channel",
            WINDOW,
            CHANNEL_ALL,
        ),
        g("tracker_revenue_window", revenue, WINDOW, CURRENCY, CHANNEL_ALL).with_note(
            "channel: the order event's; all: every channel."
        ),
        g(
            "tracker_revenue_per_session",
            "Revenue in the window / sessions closed in the window",
            WINDOW,
            CURRENCY,
        ),
        *(
            w(f"tracker_{name}_window", f"Feedback {bucket.replace('_', ' ')} in the window")
            for name, bucket in feedback.items()
        ),
        w("tracker_nps", "Net Promoter Score: % promoters - % detractors"),
        w("tracker_csat", "Share of CSAT answers of 4 or 5"),
        w("tracker_ces", "Mean customer-effort score"),
        w(
            "tracker_repurchase_customers_window",
            "Customers with at least one order in the window",
            LOOKBACK,
        ),
        w(
            "tracker_repurchase_repeat_customers_window",
            "Customers with at least two orders in the window",
            LOOKBACK,
        ),
        w(
            "tracker_repurchase_rate",
            "Customers with two or more orders / customers with one or more",
            LOOKBACK,
        ),
        g(
            "tracker_funnel_dropoff_ratio",
            "Share of sessions reaching the previous funnel step but not this one",
            Label("step", source="TRACKER_FUNNEL steps after the first"),
        ),
        g(
            "tracker_funnel_sessions_window",
            "Sessions closed in the window (by last event time) reaching each funnel step",
            WINDOW,
            STEP,
        ),
        g(
            "tracker_funnel_step_info",
            "The funnel steps in their configured order (position 1 is the first); always 1",
            STEP,
            Label("position", source="1 to the number of TRACKER_FUNNEL steps"),
        ).with_note("Join on step to order a funnel panel: `* on (step) group_left (position)`."),
        *_previous(),
        *experience_gauges(WINDOW),
        g("tracker_watermark_lag_seconds", "Wall clock minus the partition's watermark", PARTITION),
        g("tracker_consumer_lag", "Messages not yet processed", PARTITION),
        *identity_gauges(g, PARTITION),
        g("tracker_partitions_assigned", "Input partitions this worker owns"),
    )


def _previous() -> tuple[MetricSpec, ...]:
    """The window just before the current one, for the overview's change (same length)."""
    before = "in the window just before the current one (the 24 h before the last 24 h)"
    return (
        *(
            _windowed(f"tracker_sessions_{o}_previous_window", f"Sessions {o} {before}")
            for o in ("closed", "bounced", "converted")
        ),
        _windowed("tracker_orders_previous_window", f"Orders {before}"),
        _gauge("tracker_revenue_previous_window", f"Order revenue {before}", WINDOW, CURRENCY),
    )


def _accounts() -> tuple[MetricSpec, ...]:
    w = _windowed
    channels = Label("channels", tuple(str(n) for n in range(1, len(CHANNELS) + 1)))
    people = Label("people_le", (*(str(b) for b in PEOPLE_BUCKETS), "+Inf"))
    invalid = (
        "Account-stage records that could not be decoded (a bug: only the tracker writes them)"
    )
    by_people = (
        "Accounts active in the window with at most `people_le` people seen in the last 28 days"
    )
    return (
        _counter(
            "tracker_account_first_order_channels_total",
            "Accounts by the number of channels they touched up to their first order",
            channels,
        ),
        _counter("tracker_account_activity_invalid_total", invalid),
        w("tracker_account_reach", "Distinct B2B accounts with activity in the window").with_note(
            "An account is an event's `account_id`."
        ),
        w("tracker_account_converted_window", "Accounts with an order in the window"),
        w(
            "tracker_account_conversion_rate",
            "Accounts with an order / accounts active in the window",
        ),
        _gauge("tracker_accounts_by_people", by_people, WINDOW, people),
        _gauge(
            "tracker_state_rows",
            "State rows this worker holds in memory",
            Label("table", STATE_TABLES),
        ),
        _gauge(
            "tracker_partition_failed",
            "1 while an input partition is paused after a fault in its own work (docs/operations.md)",
            Label("partition", source="input partitions this worker owns or paused"),
        ),
        _gauge(
            "tracker_input_partitions",
            "Partitions of the input topic, as this worker read them at start",
        ),
        *privacy_gauges(Label("reason", (*REJECT_REASONS, *INTERNAL_REASONS))),
        MetricSpec(
            "tracker_scrape_errors_total",
            "counter",
            "Parts of a /metrics scrape that failed to render and were left out, by part",
            (Label("part", SCRAPE_PARTS),),
            note="Counted by this worker process since it started; not per partition.",
        ),
    )


def _collector() -> tuple[MetricSpec, ...]:
    events = (
        "Events received: accepted (acknowledged by the broker), rejected (invalid), "
        "no_consent, bot (dropped), unavailable (broker down: client told to retry)"
    )
    requests = "Requests to /v1/events (preflights included) by HTTP status code"
    duration = "Time to answer POST /v1/events, broker acknowledgement included"
    return (
        MetricSpec(
            "tracker_collector_requests_total",
            "counter",
            requests,
            (Label("code", COLLECTOR_CODES),),
            "collector",
        ),
        MetricSpec(
            "tracker_collector_request_duration_seconds", "histogram", duration, (), "collector"
        ),
        MetricSpec(
            "tracker_collector_events_total",
            "counter",
            events,
            (Label("outcome", COLLECTOR_OUTCOMES),),
            "collector",
        ),
        *collector_intake_metrics(),
    )


CATALOGUE: dict[str, MetricSpec] = {
    s.name: s for s in (*_counters(), *_gauges(), *_accounts(), *_collector())
}
# Counter keys a partition's aggregates may hold: each one feeds a declared metric.
COUNTER_KEYS = frozenset(key for s in CATALOGUE.values() for key in s.keys)


def spec(name: str) -> MetricSpec:
    """The declaration of ``name`` (as exposed); an undeclared name is a bug."""
    if name not in CATALOGUE:
        raise UndeclaredMetricError(f"{name} is not declared in tracker.metrics.catalogue")
    return CATALOGUE[name]


def of_process(process: Process) -> tuple[MetricSpec, ...]:
    return tuple(s for s in CATALOGUE.values() if s.process == process)


def undeclared(keys: Iterable[str]) -> set[str]:
    """The metric names of counter keys (``name|label|…``) no declaration exports."""
    return {name for name in (key.split("|", 1)[0] for key in keys) if name not in COUNTER_KEYS}


def markdown_table() -> str:
    """The README's metric tables: every metric, then the values of every label."""
    return tables(CATALOGUE.values())
