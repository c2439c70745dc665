"""``tracker loadgen``: live traffic from the generator, produced at a steady rate."""

from __future__ import annotations

import math
import random
import time

from tracker.errors import ConfigError
from tracker.kafka.clients import producer
from tracker.settings import Settings
from tracker.testing.traffic import TrafficGenerator

MAX_CATCH_UP_S = 2.0  # of events owed after a stall (a full broker, a paused process)


def owed_events(rate: float, elapsed_s: float, planned: int) -> tuple[float, float]:
    """(events the rate owes by now, the elapsed time to count from from now on).

    After a stall the producer catches up at most ``MAX_CATCH_UP_S`` of events at once:
    what it owes beyond that is forgiven (the clock it counts from moves on) rather than
    sent in one burst of journeys all starting in the same second.
    """
    owed = rate * elapsed_s
    if owed - planned > rate * MAX_CATCH_UP_S:
        elapsed_s = planned / rate + MAX_CATCH_UP_S
        owed = rate * elapsed_s
    return owed, elapsed_s


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
    if not (0 < rate < math.inf):
        raise ConfigError(f"the rate must be a positive number of events per second, not {rate}")
    generator = TrafficGenerator(random.Random(seed), time_scale=time_scale)
    kafka = producer(settings.kafka_connection(bootstrap))
    started = time.monotonic()
    paced_from = started  # the clock the rate counts from (moves on after a stall)
    sent = 0
    tick = 0.1
    try:
        while duration is None or time.monotonic() - started < duration:
            if stop is not None and getattr(stop, "is_set", lambda: False)():
                break
            # The rate by the clock, not by turns of this loop: a turn takes longer than
            # its sleep, and more so the higher the rate.
            now = time.monotonic()
            owed, elapsed = owed_events(rate, now - paced_from, generator.planned_events)
            paced_from = now - elapsed
            generator.keep_up(owed, _now_ms())
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
