"""The metrics of getting real traffic in: bots, re-routed messages, the Segment API.

Kept apart so the catalogue stays one sitting long; ``tracker.metrics.catalogue``
places the worker's counters among the partition counters and the Segment API's
among the collector's metrics.
"""

from __future__ import annotations

from collections.abc import Callable

from tracker.core.bots import RULES
from tracker.metrics.specs import Label, MetricSpec

Counter = Callable[..., MetricSpec]  # the catalogue's partition counter

# Why a request to the Segment API was answered 401 (tracker.collector.segment_auth).
AUTH_REASONS = ("missing", "malformed", "unknown_key")
# What became of each Segment message (a batch item, or the body of a single call).
SEGMENT_OUTCOMES = ("accepted", "rejected", "no_consent", "ignored", "unavailable")
# Every status the Segment API answers with (tracker.collector.segment).
SEGMENT_CODES = ("200", "400", "401", "408", "413", "415", "503")


def intake_counters(c: Counter) -> tuple[MetricSpec, ...]:
    return (
        c(
            "tracker_bot_events_total",
            "Events dropped as bots before any state, by the rule their user_agent broke",
            Label("rule", RULES),
        ).with_note(
            'Each is also in tracker_events_dropped_total{reason="bot"} (docs/metrics.md#bots).'
        ),
        c(
            "tracker_events_rerouted_total",
            "Messages found on another partition than their key's (a producer with another "
            "partitioner) and re-sent to the key's partition",
        ).with_note("Counted where they arrived (docs/operations.md#re-routing)."),
    )


def collector_intake_metrics() -> tuple[MetricSpec, ...]:
    bots = "headless, crawler_list, no_user_agent, or a TRACKER_COLLECTOR_BOT_USER_AGENTS pattern"
    return (
        MetricSpec(
            "tracker_collector_bot_requests_total",
            "counter",
            "Requests to /v1/events dropped as bots, by the rule or pattern that matched",
            (Label("reason", source=bots),),
            "collector",
        ),
        MetricSpec(
            "tracker_segment_requests_total",
            "counter",
            "Requests to the Segment API (/v1/batch, /v1/track, …) by HTTP status code",
            (Label("code", SEGMENT_CODES),),
            "collector",
        ),
        MetricSpec(
            "tracker_segment_messages_total",
            "counter",
            "Segment messages received: accepted (acknowledged by the broker), rejected "
            "(invalid, answered in the response), no_consent, ignored (nothing for the tracker: "
            "group, traits only), unavailable (broker down)",
            (Label("outcome", SEGMENT_OUTCOMES),),
            "collector",
        ),
        MetricSpec(
            "tracker_segment_auth_failures_total",
            "counter",
            "Segment API requests refused with 401: no write key, not HTTP Basic, or a key "
            "not in TRACKER_WRITE_KEYS",
            (Label("reason", AUTH_REASONS),),
            "collector",
        ),
    )
