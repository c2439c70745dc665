"""New, returning and lapsed customers and repurchase by first-order channel, counted from
the raw messages by docs/metrics.md#retention alone.

It imports nothing from ``tracker``, so agreeing with the pipeline on a long
generated history shows the rules are implemented as documented. Simplified where
that history allows: no bots, no logins, no malformed input, no duplicate ids, no
consent granted again after a withdrawal, nothing older than the state's memory.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from statistics import median
from typing import Any

DAY_MS = 86_400_000
WINDOWS = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "28d": 28 * 86400}
CHANNELS = ("web", "app", "social", "store", "email", "call_center", "partner")
AGENTS = {"support_reply", "support_resolved"}


@dataclass
class Customer:
    first: int = -1
    first_channel: str = ""
    last: dict[str, int] = field(default_factory=dict)  # channel -> last event time
    orders: list[tuple[int, str]] = field(default_factory=list)


def _ms(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def history(messages: list[tuple[bytes, int]]) -> dict[str, Customer]:
    """Each customer's counted history from (value, broker time) in the order fed."""
    customers: dict[str, Customer] = {}
    blocked: set[str] = set()
    for value, broker_ms in messages:
        decoded = json.loads(value)
        for e in decoded if isinstance(decoded, list) else [decoded]:
            who = e["customer_id"]
            if not e["consent"]["analytics"]:
                if e["event_type"] == "consent":  # a withdrawal: erased, then blocked
                    customers.pop(who, None)
                    blocked.add(who)
                continue
            if who in blocked or e["event_type"] in AGENTS:
                continue
            at = _ms(e["occurred_at"])
            if "sent_at" in e:  # the device's clock, corrected by its send delay
                at = broker_ms - (_ms(e["sent_at"]) - at)
            c = customers.setdefault(who, Customer())
            if c.first < 0 or at < c.first:
                c.first, c.first_channel = at, e["channel"]
            c.last[e["channel"]] = max(c.last.get(e["channel"], -1), at)
            if e["event_type"] == "order":
                c.orders.append((at, e["channel"]))
    return customers


def _start(ref_ms: int, seconds: int) -> tuple[int, int]:
    """The window's first bucket and the bucket size in ms (minutes up to 24 h, else hours)."""
    size = 60_000 if seconds <= 86400 else 3_600_000
    return ref_ms // size - seconds * 1000 // size + 1, size


def lapse_at(orders: list[int], min_ms: int = 30 * DAY_MS, factor: float = 2.0) -> int | None:
    newest = sorted(orders, reverse=True)[:16]
    if len(newest) < 2:
        return None
    gaps = [a - b for a, b in pairwise(newest)]
    return newest[0] + max(int(factor * median(gaps)), min_ms)


def figures(customers: dict[str, Customer], ref_ms: int, lookback_s: int) -> dict[str, Any]:
    out: dict[str, Any] = defaultdict(int)
    for c in customers.values():
        first_order = min(c.orders)[1] if c.orders else ""
        lapse = lapse_at([t for t, _ in c.orders])
        lapsed = lapse is not None and ref_ms > lapse
        if lapsed:
            out[("lapsed", first_order)] += 1
        for window, seconds in WINDOWS.items():
            start, size = _start(ref_ms, seconds)
            if c.first // size >= start:
                out[("new", window, "all")] += 1
                out[("new", window, c.first_channel)] += 1
            elif max(c.last.values()) // size >= start:
                out[("returning", window, "all")] += 1
            for channel, last in c.last.items():
                if last // size >= start and c.first // size < start:
                    out[("returning", window, channel)] += 1
            if lapsed and lapse is not None and lapse // size >= start:
                out[("lapsed_window", window, first_order)] += 1
        start, size = _start(ref_ms, lookback_s)
        times = sorted((t for t, _ in c.orders), reverse=True)
        for rank, name in enumerate(("buyers", "repeat")):
            if len(times) > rank and times[rank] // size >= start:
                out[(name, first_order)] += 1
    return out
