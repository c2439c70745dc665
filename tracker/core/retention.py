"""Retention and churn (docs/metrics.md#retention): new, returning and lapsed customers. Pure.

Each customer contributes to a few event-time buckets, all derived from its
``Retention`` (``contributions``); a change is applied as the difference between
the contributions before and after, so buckets stay exact through out-of-order
events, hand-overs and erasures:

- ``new:<channel>`` at the minute of the first counted event, by its channel: new
  customers of a window are those first seen in it (``all``: the channels' sum);
- ``nfo:<channel>`` at that minute for every other channel the customer was seen
  on: reach of a channel minus ``new`` and ``nfo`` there is its returning customers.
  (Most customers use one channel: one bucket each, which keeps the hot path cheap.)
- ``rp1:<first-order channel>`` / ``rp2:…`` at the newest / second-newest order:
  the repurchase rate by first-order channel;
- ``lapse:<first-order channel>`` at the moment a customer lapsed, and the
  counter ``tracker_customers_lapsed|<channel>`` while it is lapsed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from statistics import median
from typing import Any

from tracker.core.aggregates import Delta, counter_key
from tracker.core.codes import CHANNEL_CODES, CodeTable
from tracker.core.contract import CHANNELS
from tracker.core.histogram import minute_of

DAY_MS = 86_400_000
MAX_ORDERS = 16  # order times kept per customer: the median gap of the newest ones
LAPSED_KEY = "tracker_customers_lapsed"  # up and down: a gauge summed over partitions
_CHANNELS = CodeTable("channel", CHANNELS, CHANNEL_CODES)
# Bucket and counter names by channel index, built once: the hot path formats none.
_NEW = tuple(f"new:{c}" for c in CHANNELS)
_NFO = tuple(f"nfo:{c}" for c in CHANNELS)
_RP1 = tuple(f"rp1:{c}" for c in CHANNELS)
_RP2 = tuple(f"rp2:{c}" for c in CHANNELS)
_LAPSE = tuple(f"lapse:{c}" for c in CHANNELS)
_LAPSED = tuple(counter_key(LAPSED_KEY, c) for c in CHANNELS)


@dataclass(slots=True, init=False)
class Retention:
    first_ms: int  # the first counted event the state remembers
    first_channel: int
    channels: int  # bit set of the channels the customer was seen on
    first_order_ms: int
    first_order_channel: int
    orders: list[int]  # order times, newest first, bounded
    lapsed_ms: int  # the moment it lapsed, while lapsed; -1: not lapsed
    due_ms: int  # the moment it lapses unless it orders again (``lapse_at``); -1: none
    # The row form it was decoded from while unchanged: written back as it is (most rows
    # are rewritten for events that change nothing here).
    raw: list[Any] | None = field(compare=False, repr=False)

    # Written out, not generated: mypyc compiles it, the generated one stays interpreted.
    def __init__(
        self,
        first_ms: int,
        first_channel: int,
        channels: int = 0,
        first_order_ms: int = -1,
        first_order_channel: int = -1,
        orders: list[int] | None = None,
        lapsed_ms: int = -1,
        due_ms: int = -1,
        raw: list[Any] | None = None,
    ) -> None:
        self.first_ms = first_ms
        self.first_channel = first_channel
        self.channels = channels
        self.first_order_ms = first_order_ms
        self.first_order_channel = first_order_channel
        self.orders = [] if orders is None else orders
        self.lapsed_ms = lapsed_ms
        self.due_ms = due_ms
        self.raw = raw


@dataclass(frozen=True, slots=True)
class Lapse:
    """When a customer with two orders or more lapses: ``factor`` times the median gap
    between its orders after the newest, and at least ``min_ms`` (TRACKER_LAPSE_*)."""

    min_ms: int = 30 * DAY_MS
    factor: float = 2.0


def lapse_at(r: Retention, rule: Lapse) -> int | None:
    """The moment the customer lapses unless it orders again; None: it cannot (yet)."""
    if len(r.orders) < 2 or r.lapsed_ms >= 0:
        return None
    gaps = [a - b for a, b in pairwise(r.orders)]
    return r.orders[0] + max(int(rule.factor * median(gaps)), rule.min_ms)


def seen(r: Retention | None, at_ms: int, channel: int, delta: Delta) -> Retention:
    """A counted event of the customer (not an agent's): first seen, channels seen on."""
    if r is None:
        delta.bucket(_NEW[channel], minute_of(at_ms), 1)  # ``contributions`` of a first event
        return Retention(at_ms, channel, 1 << channel)
    if at_ms >= r.first_ms and r.channels >> channel & 1:
        return r
    before = contributions(r)
    r.raw = None
    if at_ms < r.first_ms:
        r.first_ms, r.first_channel = at_ms, channel
    r.channels |= 1 << channel
    _apply(delta, before, contributions(r))
    return r


def ordered(r: Retention, at_ms: int, channel: int, rule: Lapse, delta: Delta) -> None:
    """A counted order: repurchase by first-order channel; a lapsed customer is won back."""
    before = contributions(r)
    r.raw = None
    if r.first_order_ms < 0 or at_ms < r.first_order_ms:
        r.first_order_ms, r.first_order_channel = at_ms, channel
    newest = r.orders[0] if r.orders else -1
    r.orders.append(at_ms)
    r.orders.sort(reverse=True)
    del r.orders[MAX_ORDERS:]
    if r.lapsed_ms >= 0 and at_ms > newest:
        label = CHANNELS[r.first_order_channel]
        delta.count(counter_key("tracker_customer_win_backs_total", label))
        r.lapsed_ms = -1
    r.due_ms = lapse_at(r, rule) or -1
    _apply(delta, before, contributions(r))


def lapse_due(r: Retention | None, watermark_ms: int, delta: Delta) -> None:
    """The watermark passed the moment the customer lapses: counted as lapsed from then."""
    if r is None or r.due_ms < 0 or r.lapsed_ms >= 0 or watermark_ms <= r.due_ms:
        return
    before = contributions(r)
    r.lapsed_ms, r.raw = r.due_ms, None
    delta.count(counter_key("tracker_customer_lapses_total", CHANNELS[r.first_order_channel]))
    _apply(delta, before, contributions(r))


def next_due(r: Retention | None) -> int | None:
    """The watermark at which ``lapse_due`` has something to do (strictly after the moment)."""
    if r is None or r.due_ms < 0 or r.lapsed_ms >= 0:
        return None
    return r.due_ms + 1


def leave(r: Retention | None, delta: Delta) -> None:
    """The customer's contributions leave this partition (an erasure, a hand-over)."""
    if r is not None:
        _apply(delta, contributions(r), {})


def expired(r: Retention | None, delta: Delta) -> None:
    """The state expires: a lapsed customer is no longer counted as one (its buckets age out)."""
    if r is not None and r.lapsed_ms >= 0:
        delta.count(counter_key(LAPSED_KEY, CHANNELS[r.first_order_channel]), -1)


def join(
    r: Retention | None, incoming: Retention | None, rule: Lapse, delta: Delta
) -> Retention | None:
    """A linked device's handed-over retention joins the customer's (its own left before)."""
    if incoming is None:
        return r
    if r is None:
        _apply(delta, {}, contributions(incoming))
        return incoming
    before = contributions(r)
    r.raw = None
    if incoming.first_ms < r.first_ms:
        r.first_ms, r.first_channel = incoming.first_ms, incoming.first_channel
    r.channels |= incoming.channels
    if incoming.first_order_ms >= 0 and (
        r.first_order_ms < 0 or incoming.first_order_ms < r.first_order_ms
    ):
        r.first_order_ms, r.first_order_channel = (
            incoming.first_order_ms,
            incoming.first_order_channel,
        )
    r.orders = sorted({*r.orders, *incoming.orders}, reverse=True)[:MAX_ORDERS]
    if r.lapsed_ms >= 0 and incoming.orders and incoming.orders[0] > r.lapsed_ms:
        r.lapsed_ms = -1  # the device ordered after the customer lapsed
    r.due_ms = lapse_at(r, rule) or -1
    _apply(delta, before, contributions(r))
    return r


def contributions(r: Retention) -> dict[tuple[str, int | None], int]:
    """The bucket counts (name, minute) and counters (name, None) the customer adds."""
    minute = minute_of(r.first_ms)
    out: dict[tuple[str, int | None], int] = {(_NEW[r.first_channel], minute): 1}
    bits, channel = r.channels & ~(1 << r.first_channel), 0
    while bits:
        if bits & 1:
            out[(_NFO[channel], minute)] = 1
        bits >>= 1
        channel += 1
    if r.orders:
        c = r.first_order_channel
        out[(_RP1[c], minute_of(r.orders[0]))] = 1
        if len(r.orders) > 1:
            key = (_RP2[c], minute_of(r.orders[1]))
            out[key] = out.get(key, 0) + 1
        if r.lapsed_ms >= 0:
            out[(_LAPSE[c], minute_of(r.lapsed_ms))] = 1
            out[(_LAPSED[c], None)] = 1  # a counter, no bucket
    return out


def _apply(
    delta: Delta,
    before: dict[tuple[str, int | None], int],
    after: dict[tuple[str, int | None], int],
) -> None:
    for key in before.keys() | after.keys():
        n = after.get(key, 0) - before.get(key, 0)
        if n:
            name, minute = key
            if minute is None:
                delta.count(name, n)
            else:
                delta.bucket(name, minute, n)


def encode(r: Retention | None) -> list[Any] | None:
    if r is None:
        return None
    if r.raw is not None:
        return r.raw
    code = _CHANNELS.to_code
    return [  # in the order of the fields
        r.first_ms,
        code[r.first_channel],
        _CHANNELS.bits_to_codes(r.channels),
        r.first_order_ms,
        code[r.first_order_channel] if r.first_order_channel >= 0 else -1,
        r.orders,
        r.lapsed_ms,
        r.due_ms,
    ]


def decode(raw: list[Any] | None) -> Retention | None:
    if raw is None:
        return None
    first, channel, channels, first_order, order_channel, orders, lapsed, due = raw
    position = _CHANNELS.from_code  # a plain dict: decoded with every row
    return Retention(
        first,
        position[channel],
        _CHANNELS.bits_from_codes(channels),
        first_order,
        position[order_channel] if order_channel >= 0 else -1,
        orders,
        lapsed,
        due,
        raw,
    )
