"""The collector's own Prometheus metrics, in an explicit registry.

Names, help texts and label names come from ``tracker.metrics.catalogue``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from tracker.metrics.catalogue import COLLECTOR_OUTCOMES, spec
from tracker.metrics.intake_metrics import AUTH_REASONS, SEGMENT_OUTCOMES

OUTCOMES = COLLECTOR_OUTCOMES
# Up to the produce timeout: the 503s belong in the histogram too.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _counter(name: str, registry: CollectorRegistry) -> Counter:
    s = spec(name)
    return Counter(s.name, s.help, s.label_names, registry=registry)


class CollectorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = _counter("tracker_collector_requests_total", self.registry)
        duration = spec("tracker_collector_request_duration_seconds")
        self.duration = Histogram(
            duration.name,
            duration.help,
            duration.label_names,
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.events = _counter("tracker_collector_events_total", self.registry)
        self.bots = _counter("tracker_collector_bot_requests_total", self.registry)
        for outcome in OUTCOMES:
            self.events.labels(outcome)  # export zeros, so rate() works from the start
        self._events = {outcome: self.events.labels(outcome) for outcome in OUTCOMES}
        # The Segment API (tracker.collector.segment); zeros exported likewise.
        self.segment_requests = _counter("tracker_segment_requests_total", self.registry)
        messages = _counter("tracker_segment_messages_total", self.registry)
        self.segment_messages = {outcome: messages.labels(outcome) for outcome in SEGMENT_OUTCOMES}
        auth = _counter("tracker_segment_auth_failures_total", self.registry)
        self.auth_failures = {reason: auth.labels(reason) for reason in AUTH_REASONS}

    def request(self, code: int, seconds: float | None = None) -> None:
        self.requests.labels(str(code)).inc()
        if seconds is not None:
            self.duration.observe(seconds)

    def count(self, outcome: str, n: int) -> None:
        if n:
            self._events[outcome].inc(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)
