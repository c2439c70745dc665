"""The collector's own Prometheus metrics, in an explicit registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

OUTCOMES = ("accepted", "rejected", "no_consent", "bot", "unavailable")
# Up to the produce timeout: the 503s belong in the histogram too.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class CollectorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tracker_collector_requests",
            "Requests to /v1/events (preflights included) by HTTP status code",
            ["code"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "tracker_collector_request_duration_seconds",
            "Time to answer POST /v1/events, broker acknowledgement included",
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.events = Counter(
            "tracker_collector_events",
            "Events received: accepted (acknowledged by the broker), rejected (invalid), "
            "no_consent, bot (dropped), unavailable (broker down: client told to retry)",
            ["outcome"],
            registry=self.registry,
        )
        self.bots = Counter(
            "tracker_collector_bot_requests",
            "Requests dropped as bots, by the user-agent pattern that matched",
            ["reason"],
            registry=self.registry,
        )
        for outcome in OUTCOMES:
            self.events.labels(outcome)  # export zeros, so rate() works from the start
        self._events = {outcome: self.events.labels(outcome) for outcome in OUTCOMES}

    def request(self, code: int, seconds: float | None = None) -> None:
        self.requests.labels(str(code)).inc()
        if seconds is not None:
            self.duration.observe(seconds)

    def count(self, outcome: str, n: int) -> None:
        if n:
            self._events[outcome].inc(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)
