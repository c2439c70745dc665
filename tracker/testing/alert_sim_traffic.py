"""TrafficStopped and ConsentRateDrop in the alert simulation (``tracker.testing.alert_sim``).

Events per channel follow the published curve: web 60 %, app 25 %, email 10 % of
the sessions at every hour, call_center 5 % but only 08:00-20:00 (the channel
that is always quiet at night). Five events per session on average, in bursts.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from dataclasses import dataclass

from tracker.testing import alert_rules as ar
from tracker.testing.alert_model import MINUTES_PER_DAY, WEEK_MINUTES, event_counter, shape

SIZES = (100, 300, 1_000, 3_000, 10_000)
CHANNELS = {"web": 0.60, "app": 0.25, "email": 0.10, "call_center": 0.05}
EVENTS_PER_SESSION = 5.0
CONSENTED = 0.7  # share of sessions with analytics consent on a normal day
BROKEN_BANNER = 0.3  # ... after the banner breaks (only returning visitors still consent)
MONTH = 30 * MINUTES_PER_DAY


@dataclass(frozen=True)
class Study:
    """False episodes per shop size over ``months``, and detection delays (minutes)."""

    months: float
    false_episodes: dict[int, int]
    watched: dict[int, float]  # share of evaluated minutes the alert could fire at all
    delays: dict[int, list[float | None]]


def _channel_rate(size: int, channel: str) -> Callable[[int], float]:
    share = CHANNELS[channel]

    def rate(minute: int) -> float:
        if channel == "call_center" and not 8 * 60 <= minute % MINUTES_PER_DAY < 20 * 60:
            return 0.0
        return size / 60 * share * shape(minute)

    return rate


def _first(states: list[bool]) -> float | None:
    return next((float(i) for i, s in enumerate(states) if s), None)


def _traffic_false(rule: ar.TrafficRule, size: int, minutes: int) -> tuple[int, float]:
    episodes, watched, evaluated = 0, 0, 0
    start = WEEK_MINUTES + 60
    for channel in CHANNELS:
        events = event_counter(
            _channel_rate(size, channel),
            EVENTS_PER_SESSION,
            minutes,
            random.Random(f"{size}{channel}"),
        )
        condition = []
        for at in range(start, minutes + 1):
            before = ar.increase(events, 1, at, *rule.before) or 0.0
            watched += before * 60 / rule.before[0] >= rule.min_per_hour
            condition.append(ar.traffic_condition(rule, events, 1, at))
        evaluated += len(condition)
        episodes += len(ar.episodes(ar.firing(condition, 1, rule.hold)))
    return episodes, watched / evaluated


def _traffic_delays(rule: ar.TrafficRule, size: int, trials: int) -> list[float | None]:
    """The web channel stops at a weekday daytime minute: minutes to the first firing."""
    out = []
    for trial in range(trials):
        rng = random.Random(f"stop-{size}-{trial}")
        at = WEEK_MINUTES + rng.randrange(0, 5) * MINUTES_PER_DAY + rng.randrange(9 * 60, 21 * 60)
        base = _channel_rate(size, "web")

        def rate(m: int, at: int = at, base: Callable[[int], float] = base) -> float:
            return 0.0 if m >= at else base(m)

        events = event_counter(rate, EVENTS_PER_SESSION, at + 60, rng)
        condition = [ar.traffic_condition(rule, events, 1, t) for t in range(at, at + 61)]
        out.append(_first(ar.firing(condition, 1, rule.hold)))
    return out


def traffic_study(rule: ar.TrafficRule, months: float, trials: int = 12) -> Study:
    minutes = WEEK_MINUTES + 60 + int(months * MONTH)
    false: dict[int, int] = {}
    watched: dict[int, float] = {}
    delays: dict[int, list[float | None]] = {}
    for size in SIZES:
        false[size], watched[size] = _traffic_false(rule, size, minutes)
        delays[size] = _traffic_delays(rule, size, trials)
        print(f"  TrafficStopped {size}/h: {false[size]} false", file=sys.stderr, flush=True)
    return Study(months, false, watched, delays)


def _consent_series(
    size: int, minutes: int, rng: random.Random, broken_from: int | None = None
) -> tuple[list[float], list[float]]:
    def share(minute: int) -> float:
        return BROKEN_BANNER if broken_from is not None and minute >= broken_from else CONSENTED

    counted = event_counter(
        lambda m: size / 60 * shape(m) * share(m), EVENTS_PER_SESSION, minutes, rng
    )
    missing = event_counter(
        lambda m: size / 60 * shape(m) * (1 - share(m)), EVENTS_PER_SESSION, minutes, rng
    )
    return missing, counted


def consent_study(rule: ar.ConsentRule, months: float, trials: int = 12) -> Study:
    minutes = WEEK_MINUTES + 60 + int(months * MONTH)
    false: dict[int, int] = {}
    watched: dict[int, float] = {}
    delays: dict[int, list[float | None]] = {}
    for size in SIZES:
        missing, counted = _consent_series(size, minutes, random.Random(f"consent-{size}"))
        span = range(WEEK_MINUTES + 60, minutes + 1)
        condition = [ar.consent_condition(rule, missing, counted, 1, at) for at in span]
        false[size] = len(ar.episodes(ar.firing(condition, 1, rule.hold)))
        big = [
            (ar.increase(missing, 1, at, rule.window, 0) or 0)
            + (ar.increase(counted, 1, at, rule.window, 0) or 0)
            >= rule.min_events
            for at in span
        ]
        watched[size] = sum(big) / len(big)
        delays[size] = []
        for trial in range(trials):
            rng = random.Random(f"banner-{size}-{trial}")
            at = (
                WEEK_MINUTES
                + rng.randrange(0, 5) * MINUTES_PER_DAY
                + rng.randrange(9 * 60, 21 * 60)
            )
            gone, kept = _consent_series(size, at + 120, rng, broken_from=at)
            states = ar.firing(
                [ar.consent_condition(rule, gone, kept, 1, t) for t in range(at, at + 121)],
                1,
                rule.hold,
            )
            delays[size].append(_first(states))
        print(f"  ConsentRateDrop {size}/h: {false[size]} false", file=sys.stderr, flush=True)
    return Study(months, false, watched, delays)
