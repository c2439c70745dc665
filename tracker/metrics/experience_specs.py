"""The metrics of issue 20's customer experience (load times first), declared for the catalogue.

Kept apart so the catalogue stays one sitting long; ``tracker.metrics.catalogue``
places the counters among the partition counters and the gauges among the gauges.
Rendered by ``tracker.metrics.experience``.
"""

from __future__ import annotations

from collections.abc import Callable

from tracker.core.contract import VITAL_NAMES
from tracker.core.vitals import LCP_CLASSES
from tracker.metrics.specs import Label, MetricSpec

Counter = Callable[..., MetricSpec]  # the catalogue's partition counter
LCP_CLASS = Label("lcp_class", LCP_CLASSES)
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
    )


def experience_gauges(window: Label) -> tuple[MetricSpec, ...]:
    closed = "closed in the window (by last event time), by the session's LCP class"
    return (
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
