"""Counter series for the alert simulation: a published diurnal curve with Poisson noise.

Everything here is pure and seeded: the same arguments give the same series.
One sample per minute, as cumulative counters (what Prometheus scrapes). The
curve is the one ALERTS.md publishes: hourly shares of the peak hour, night
trough 17 % of peak, weekends at 0.8 of weekdays, linear between the hours.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

MINUTES_PER_DAY = 1440
WEEK_MINUTES = 7 * MINUTES_PER_DAY
# Share of the peak hour's traffic, hour 0..23 (local time of the shop), weekdays.
HOURLY_SHAPE = (
    0.45, 0.30, 0.22, 0.18, 0.17, 0.19, 0.26, 0.38, 0.52, 0.63, 0.71, 0.77,
    0.82, 0.82, 0.80, 0.79, 0.80, 0.84, 0.90, 0.97, 1.00, 0.96, 0.83, 0.63,
)  # fmt: skip
WEEKEND_FACTOR = 0.8
# The simulation starts on a Monday at midnight: days 5 and 6 of each week are the weekend.
WEEKEND_DAYS = (5, 6)

# (minute, sessions per minute, conversion probability) -> the same, changed by a scenario.
Change = Callable[[int, float, float], tuple[float, float]]


def shape(minute: int) -> float:
    """The curve's share of the peak rate at ``minute`` since the start (Monday 00:00)."""
    hour, into = divmod(minute % MINUTES_PER_DAY, 60)
    frac = into / 60
    value = HOURLY_SHAPE[hour] * (1 - frac) + HOURLY_SHAPE[(hour + 1) % 24] * frac
    weekday = (minute // MINUTES_PER_DAY) % 7
    return value * (WEEKEND_FACTOR if weekday in WEEKEND_DAYS else 1.0)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw: multiplication for small means, PTRS (Hoermann 1993) above 10.

    The standard library has no Poisson sampler before Python 3.12's binomial one;
    PTRS is the transformed rejection numpy uses for the same range.
    """
    if mean <= 0:
        return 0
    if mean < 10:
        limit, count, product = math.exp(-mean), 0, rng.random()
        while product > limit:
            count += 1
            product *= rng.random()
        return count
    slam, loglam = math.sqrt(mean), math.log(mean)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2)
    while True:
        u = rng.random() - 0.5
        v = rng.random()
        us = 0.5 - abs(u)
        k = math.floor((2 * a / us + b) * u + mean + 0.43)
        if us >= 0.07 and v <= vr:
            return k
        if k < 0 or (us < 0.013 and v > us):
            continue
        left = math.log(v) + math.log(inv_alpha) - math.log(a / (us * us) + b)
        if left <= -mean + k * loglam - math.lgamma(k + 1):
            return k


@dataclass(frozen=True)
class Shop:
    """A shop on the curve: closed sessions per hour at the peak hour, conversion rate."""

    peak_sessions_per_hour: float
    conversion: float

    def sessions_per_minute(self, minute: int) -> float:
        return self.peak_sessions_per_hour / 60 * shape(minute)

    def expected_conversions_per_hour(self, minute: int) -> float:
        return self.sessions_per_minute(minute) * 60 * self.conversion


@dataclass
class Counters:
    """Cumulative ``tracker_sessions_closed_total`` and ``..._converted_total``, one per minute."""

    closed: list[float]
    converted: list[float]


def shop_counters(shop: Shop, minutes: int, seed: int, change: Change | None = None) -> Counters:
    """Closed and converted sessions per minute: Poisson traffic, each session converting
    with the shop's rate (thinning a Poisson count gives two independent Poisson counts)."""
    rng = random.Random(seed)
    closed, converted = [0.0], [0.0]
    total = done = 0.0
    for minute in range(minutes):
        mu, p = shop.sessions_per_minute(minute), shop.conversion
        if change is not None:
            mu, p = change(minute, mu, p)
        won = poisson(rng, mu * p)
        total += won + poisson(rng, mu * (1 - p))
        done += won
        closed.append(total)
        converted.append(done)
    return Counters(closed, converted)


def event_counter(
    sessions_per_minute: Callable[[int], float],
    events_per_session: float,
    minutes: int,
    rng: random.Random,
) -> list[float]:
    """Cumulative counted events: Poisson sessions, each a burst of 1 + geometric events
    in its own minute (the most clustered traffic, so silences are no rarer than real).
    n geometric counts sum to a negative binomial, drawn as Poisson(Gamma(n, mean - 1))."""
    counter, total = [0.0], 0.0
    extra = events_per_session - 1
    for minute in range(minutes):
        sessions = poisson(rng, sessions_per_minute(minute))
        if sessions:
            total += sessions + poisson(rng, rng.gammavariate(sessions, extra))
        counter.append(total)
    return counter
