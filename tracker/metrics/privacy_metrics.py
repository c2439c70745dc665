"""The metrics of privacy safeguards (PRIVACY.md), declared for the catalogue.

Kept apart so the catalogue stays one sitting long; ``tracker.metrics.catalogue``
places the counter among the partition counters and the gauge among the gauges.
"""

from __future__ import annotations

from collections.abc import Callable

from tracker.metrics.specs import Label, MetricSpec

Counter = Callable[..., MetricSpec]  # the catalogue's partition counter


def privacy_counters(c: Counter) -> tuple[MetricSpec, ...]:
    return (
        c(
            "tracker_hot_customers_total",
            "Customers whose de-duplication memory filled up within the window "
            "(a kiosk, a bot, a load test); counted once per customer and window",
        ).with_note(
            "Such a customer's oldest event-id hashes are forgotten early (tracker/core/dedup.py)."
        ),
    )


def privacy_gauges(reason: Label) -> tuple[MetricSpec, ...]:
    return (
        MetricSpec(
            "tracker_dlq_records",
            "gauge",
            "Dead letters this worker's partitions wrote within the DLQ's retention, by reason",
            (reason,),
        ).with_note(
            "By the hour they were written, over TRACKER_DLQ_RETENTION_HOURS; letters purged, "
            "re-driven or tombstoned by an erasure are not subtracted: `tracker dlq inspect` "
            "shows what the DLQ holds now."
        ),
    )
