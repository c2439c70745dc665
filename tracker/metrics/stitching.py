"""The metrics of identity stitching (docs/identity.md), declared for the catalogue.

Kept apart so the catalogue stays one sitting long; ``tracker.metrics.catalogue``
places them among the partition counters and the worker's health gauges.
"""

from __future__ import annotations

from collections.abc import Callable

from tracker.metrics.specs import Label, MetricSpec

Counter = Callable[..., MetricSpec]  # the catalogue's partition counter
Gauge = Callable[..., MetricSpec]  # the catalogue's worker gauge


def stitched_sessions(c: Counter, channel: Label) -> tuple[MetricSpec, ...]:
    """Sessions that end neither closed nor active: merged into another, or discarded."""
    return (
        c(
            "tracker_sessions_merged_total",
            "Sessions merged into another (identity stitching, an earlier entry), by entry channel",
            channel,
        ).with_note(
            "started = closed + active + merged + discarded per channel (docs/metrics.md#sessions)."
        ),
        c(
            "tracker_sessions_discarded_total",
            "Open sessions discarded by a withdrawal or an erasure, by entry channel",
            channel,
        ),
    )


def identity_counters(c: Counter) -> tuple[MetricSpec, ...]:
    return (
        c(
            "tracker_identity_links_total",
            "Anonymous ids linked to a customer by an identify (docs/identity.md)",
        ),
        c(
            "tracker_identity_conflicts_total",
            "Identify events that linked nothing: the anonymous id was linked elsewhere or is "
            "itself a link target",
        ),
        c(
            "tracker_events_forwarded_total",
            "Events that arrived under a linked anonymous id, forwarded to its customer",
        ).with_note(
            "Counted where they arrived; their outcome counts at the customer's partition."
        ),
        c(
            "tracker_identity_records_invalid_total",
            "Identity-topic records that could not be decoded (a bug: only the tracker writes them)",
        ),
    )


def identity_gauges(g: Gauge, partition: Label) -> tuple[MetricSpec, ...]:
    """Hand-overs on their way, per partition: what waits for the identity topic."""
    return (
        g(
            "tracker_identity_lag",
            "Identity-topic records (hand-overs between partitions) not yet applied",
            partition,
        ),
        g(
            "tracker_identity_held_events",
            "Events customers' rows hold back until a pending hand-over lands",
            partition,
        ),
        g(
            "tracker_identity_records_unacknowledged",
            "Identity records rows keep until Kafka acknowledges them (sent again on restart)",
            partition,
        ),
    )
