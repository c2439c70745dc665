"""Issue 20's customer-experience metrics (load times, support, retention, experiments).

Kept apart so the catalogue stays one sitting long; ``tracker.metrics.catalogue``
places the counters among the partition counters and the gauges among the gauges.
Rendered by ``tracker.metrics.experience``.
"""

from __future__ import annotations

from collections.abc import Callable

from tracker.core.contract import CHANNELS, SUPPORT_CHANNELS, VITAL_NAMES
from tracker.core.vitals import LCP_CLASSES
from tracker.metrics.specs import Label, MetricSpec

Counter = Callable[..., MetricSpec]  # the catalogue's partition counter
LCP_CLASS = Label("lcp_class", LCP_CLASSES)
SUPPORT_CHANNEL = Label("support_channel", SUPPORT_CHANNELS)
CHANNEL_ALL = Label("channel", (*CHANNELS, "all"))  # as the catalogue's
LOOKBACK = Label("window", source="TRACKER_REPURCHASE_LOOKBACK as a window (90d)")
FIRST_ORDER = "the channel of the customer's first order"
EXPERIMENT = Label("experiment", source="TRACKER_EXPERIMENTS experiments")
VARIANT = Label("variant", source="TRACKER_EXPERIMENTS variants of the experiment")
NOT_CONTROL = Label("variant", source="TRACKER_EXPERIMENTS variants but the control (the first)")
CONTROL = Label("variant", source="TRACKER_EXPERIMENTS control (the experiment's first variant)")
VITAL_HELP = (
    "Core Web Vitals measured by the snippet's web-vitals library, by touchpoint: seconds "
    "(CLS: unitless); bucket bounds include Google's good and poor thresholds"
)


def experience_counters(c: Counter, touchpoint: Label, partition: Label) -> tuple[MetricSpec, ...]:
    by_lcp = "by the session's LCP class (its first LCP: the landing page's)"
    return (
        MetricSpec(
            "tracker_web_vital",
            "histogram",
            VITAL_HELP,
            (Label("name", VITAL_NAMES), touchpoint, partition),
            # Per-bucket counts, and the sum in millionths of the unit (counters are integers).
            keys=("tracker_web_vital", "tracker_web_vital_micros"),
            note="p75 per touchpoint: `name_touchpoint:tracker_web_vital:p75_rate1h` "
            "(docs/metrics.md#web-vitals).",
        ),
        c("tracker_sessions_closed_by_lcp_total", f"Sessions closed, {by_lcp}", LCP_CLASS),
        c("tracker_sessions_converted_by_lcp_total", f"Sessions converted, {by_lcp}", LCP_CLASS),
        *_support_counters(c, partition),
        c(
            "tracker_customer_lapses_total",
            f"Customers who lapsed (docs/metrics.md#retention), by {FIRST_ORDER}",
            Label("channel", CHANNELS),
        ),
        c(
            "tracker_customer_win_backs_total",
            f"Lapsed customers who ordered again, by {FIRST_ORDER}",
            Label("channel", CHANNELS),
        ),
        c(
            "tracker_experiment_sessions_total",
            "Closed sessions in a live experiment, by the variant of its first event in it",
            EXPERIMENT,
            VARIANT,
        ).with_note("Only allow-listed pairs count (docs/metrics.md#experiments)."),
        c(
            "tracker_experiment_conversions_total",
            "Closed sessions in a live experiment with an order, by that variant",
            EXPERIMENT,
            VARIANT,
        ),
    )


def _support_counters(c: Counter, partition: Label) -> tuple[MetricSpec, ...]:
    ch = SUPPORT_CHANNEL
    ticket = "the support channel of the contact that opened it"
    first = "Seconds from a ticket's first contact to its first agent reply, by " + ticket
    resolution = "Seconds from the contact that (re)opened a ticket to its resolution, by " + ticket
    return (
        c("tracker_support_contacts_total", "Support contacts by support channel", ch),
        c("tracker_support_tickets_opened_total", f"Tickets opened, by {ticket}", ch),
        c(
            "tracker_support_tickets_reopened_total",
            f"Contacts on a resolved ticket, which reopen it, by {ticket}",
            ch,
        ),
        c("tracker_support_tickets_resolved_total", f"Tickets resolved, by {ticket}", ch),
        c(
            "tracker_support_tickets_expired_total",
            f"Open tickets forgotten unresolved, their lifetime over, by {ticket}",
            ch,
        ).with_note("TRACKER_SUPPORT_TICKET_LIFETIME after their last event (30 days)."),
        MetricSpec(
            "tracker_support_first_response_seconds",
            "histogram",
            first,
            (ch, partition),
            keys=(
                "tracker_support_first_response_seconds",
                "tracker_support_first_response_seconds_ms",
            ),
        ),
        MetricSpec(
            "tracker_support_resolution_seconds",
            "histogram",
            resolution,
            (ch, partition),
            keys=("tracker_support_resolution_seconds", "tracker_support_resolution_seconds_ms"),
        ),
        *_support_sessions(c),
    )


def _support_sessions(c: Counter) -> tuple[MetricSpec, ...]:
    ch = SUPPORT_CHANNEL
    scores = {
        k: Label("score", tuple(map(str, range(1, n + 1)))) for k, n in (("csat", 5), ("ces", 7))
    }
    return (
        c(
            "tracker_sessions_with_support_total",
            "Closed sessions with a support contact, by the support channel of the first",
            ch,
        ),
        c(
            "tracker_sessions_rescued_total",
            "Closed sessions with a support contact and an order after it: rescued conversions",
            ch,
        ),
        c(
            "tracker_support_csat_responses_total",
            "CSAT answers after a support contact in the same session, by score and its channel",
            scores["csat"],
            ch,
        ),
        c(
            "tracker_support_ces_responses_total",
            "CES answers after a support contact in the same session, by score and its channel",
            scores["ces"],
            ch,
        ),
    )


def experience_gauges(window: Label) -> tuple[MetricSpec, ...]:
    return (*_lcp_and_support_gauges(window), *_retention_gauges(window), *_experiment_gauges())


def _experiment_gauges() -> tuple[MetricSpec, ...]:
    workers = "From this worker's partitions: exact when one worker owns them all."
    return (
        MetricSpec(
            "tracker_experiment_conversion_rate",
            "gauge",
            "Converted / closed sessions of each variant of a live experiment, since it started",
            (EXPERIMENT, VARIANT),
        ).with_note(workers),
        MetricSpec(
            "tracker_experiment_p_value",
            "gauge",
            "Two-sided p-value of a two-proportion z-test of the variant's conversion against "
            "the control's",
            (EXPERIMENT, NOT_CONTROL),
        ).with_note(
            "Read it only once every arm has `tracker_experiment_sample_size` sessions. " + workers
        ),
        MetricSpec(
            "tracker_experiment_sample_size",
            "gauge",
            "Sessions each arm needs to detect a relative lift of TRACKER_EXPERIMENT_MDE over the"
            " control's conversion rate (alpha 0.05 two-sided, power 0.8)",
            (EXPERIMENT,),
        ).with_note(workers),
        MetricSpec(
            "tracker_experiment_control_info",
            "gauge",
            "1 for each live experiment's control variant: lets PromQL compare every variant "
            "with its control across workers (experiment_variant:tracker_experiment_z_score:ratio)",
            (EXPERIMENT, CONTROL),
        ),
    )


def _retention_gauges(window: Label) -> tuple[MetricSpec, ...]:
    def g(name: str, help_: str, *labels: Label) -> MetricSpec:
        return MetricSpec(name, "gauge", help_, labels)

    by_first = f"channel: {FIRST_ORDER}; all: every channel."
    return (
        g(
            "tracker_customers_new",
            "Customers first seen in the window, by the channel of their first event",
            window,
            CHANNEL_ALL,
        ).with_note("new + returning = reach (channel all)."),
        g(
            "tracker_customers_returning",
            "Customers seen in the window and before it, by a channel they were seen on in it",
            window,
            CHANNEL_ALL,
        ).with_note("Before it: within the state's memory (90 days after their last event)."),
        MetricSpec(
            "tracker_customers_lapsed",
            "gauge",
            "Customers lapsed now: two orders or more, none for twice their median gap and "
            "at least 30 days (TRACKER_LAPSE_*)",
            (CHANNEL_ALL,),
            keys=("tracker_customers_lapsed",),  # kept up and down per partition, summed
        ).with_note(by_first),
        g(
            "tracker_customers_lapsed_window",
            "Customers lapsed now whose lapse fell in the window",
            window,
            CHANNEL_ALL,
        ).with_note(by_first),
        g(
            "tracker_repurchase_customers_by_first_channel_window",
            "Customers with at least one order in the window, by the channel of their first",
            LOOKBACK,
            CHANNEL_ALL,
        ),
        g(
            "tracker_repurchase_repeat_customers_by_first_channel_window",
            "Customers with at least two orders in the window, by the channel of their first",
            LOOKBACK,
            CHANNEL_ALL,
        ),
        g(
            "tracker_repurchase_rate_by_first_channel",
            "Customers with two or more orders / with one or more in the window, by first-order"
            " channel",
            LOOKBACK,
            CHANNEL_ALL,
        ),
    )


def _lcp_and_support_gauges(window: Label) -> tuple[MetricSpec, ...]:
    closed = "closed in the window (by last event time), by the session's LCP class"
    return (
        MetricSpec(
            "tracker_support_tickets_open",
            "gauge",
            "Support tickets open now (contacted, not resolved, not expired), by their channel",
            (SUPPORT_CHANNEL,),
            keys=("tracker_support_tickets_open",),
        ),
        MetricSpec(
            "tracker_sessions_closed_by_lcp_window",
            "gauge",
            f"Sessions {closed}",
            (window, LCP_CLASS),
        ),
        MetricSpec(
            "tracker_sessions_converted_by_lcp_window",
            "gauge",
            f"Converted sessions {closed}",
            (window, LCP_CLASS),
        ),
        MetricSpec(
            "tracker_conversion_rate_by_lcp",
            "gauge",
            "Converted / closed sessions in the window, by the session's LCP class",
            (window, LCP_CLASS),
        ),
    )
