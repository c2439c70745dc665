"""The metrics of privacy safeguards (PRIVACY.md), declared for the catalogue.

Kept apart so the catalogue stays one sitting long; ``tracker.metrics.catalogue``
places the counter among the partition counters and the gauge among the gauges.
"""

from __future__ import annotations

from collections.abc import Callable

from tracker.metrics.specs import MetricSpec

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
