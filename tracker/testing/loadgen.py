"""``tracker loadgen``: live traffic from the generator, produced at a steady rate."""

from __future__ import annotations

import random
import time

from tracker.kafka.clients import producer
from tracker.settings import Settings
from tracker.testing.traffic import TrafficGenerator


def run_loadgen(
    settings: Settings,
    bootstrap: str,
    rate: float,
    duration: float | None,
    batch: int = 1,
    seed: int | None = None,
    time_scale: float = 1.0,
    stop: object | None = None,
) -> int:
    """Produce about ``rate`` events/s until ``duration`` passes; returns events sent."""
    generator = TrafficGenerator(random.Random(seed), time_scale=time_scale)
    kafka = producer(settings.kafka_connection(bootstrap))
    started = time.monotonic()
    sent = 0
    tick = 0.1
    try:
        while duration is None or time.monotonic() - started < duration:
            if stop is not None and getattr(stop, "is_set", lambda: False)():
                break
            # The rate by the clock, not by turns of this loop: a turn takes longer than
            # its sleep, and more so the higher the rate.
            generator.keep_up(rate * (time.monotonic() - started), _now_ms())
            for message in generator.due(_now_ms(), batch):
                kafka.send(
                    settings.topic,
                    key=message.key,
                    value=message.value,
                    timestamp_ms=message.timestamp_ms,
                )
                sent += message.events
            time.sleep(tick)
        kafka.flush()
    finally:
        kafka.close()
    return sent


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
