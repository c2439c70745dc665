"""Synthetic customer-experience events for ``traffic.TrafficGenerator`` (issue 20).

Each journey gets its own ``random.Random`` seeded from the customer and the
journey's number, so these draws never shift the generator's own random
sequence: a seed's journeys stay what they were, with these events added.

Load times: a consented web visit loads its first page once (a single-page
shop, like the demo), so the snippet reports TTFB and FCP right after that
page view, LCP at the first interaction (or when the visit ends), and CLS and
INP (INP only after an interaction) when the page is hidden. Values are
log-normal around field medians; product pages load slower, and visits that
buy saw faster pages, the correlation the conversion-by-LCP panel shows.
"""

from __future__ import annotations

import math
import random
from typing import Any

from tracker.core.vitals import rating

Step = tuple[float, dict[str, Any] | bytes]
NAVIGATIONS = (("navigate", 90), ("reload", 6), ("back-forward", 4))


def side_rng(steps: list[Step]) -> random.Random:
    """A journey's own draws, seeded by its first event's id (unique and repeatable)."""
    first = next((e for _, e in steps if isinstance(e, dict)), {})
    return random.Random(f"experience/{first.get('event_id', '')}")


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return round(median * math.exp(rng.gauss(0.0, sigma)), 1)


def add_vitals(rng: random.Random, steps: list[Step]) -> None:
    """Web-vitals events into a consented web journey's ``steps`` (changed in place)."""
    events = [e for _, e in steps if isinstance(e, dict)]
    if not events or events[0]["channel"] != "web" or not events[0]["consent"]["analytics"]:
        return
    converted = any(e["event_type"] == "order" for e in events)
    landing = events[0]
    base: dict[str, Any] = {
        k: landing[k]
        for k in ("schema_version", "customer_id", "consent", "account_id")
        if k in landing
    }
    slow = 1.4 if landing["touchpoint"] == "product" else 1.0
    fast = 0.8 if converted else 1.0
    navigation = rng.choices([n for n, _ in NAVIGATIONS], weights=[w for _, w in NAVIGATIONS])[0]

    def vital(name: str, value: float, touchpoint: str) -> dict[str, Any]:
        ratings = ("good", "needs-improvement", "poor")
        return {
            **base,
            "event_id": f"{rng.getrandbits(64):016x}-v",
            "event_type": "web_vital",
            "channel": "web",
            "touchpoint": touchpoint,
            "name": name,
            "value": value,
            "rating": ratings[rating(name, value)],
            "navigation_type": navigation,
        }

    ttfb = _lognormal(rng, 450 * slow * fast, 0.6)
    fcp = round(ttfb + _lognormal(rng, 900 * slow * fast, 0.5), 1)
    lcp = round(fcp + _lognormal(rng, 700 * slow * fast, 0.8), 1)
    first = landing["touchpoint"]
    steps.insert(1, (0.0, vital("TTFB", ttfb, first)))
    steps.insert(2, (0.0, vital("FCP", fcp, first)))
    # LCP is final at the first interaction after the landing page, else when the page hides.
    at = next(
        (
            i
            for i, (_, e) in enumerate(steps)
            if i > 2 and isinstance(e, dict) and e["event_type"] == "interaction"
        ),
        len(steps),
    )
    steps.insert(at, (0.0, vital("LCP", lcp, first)))
    last = next(
        e for _, e in reversed(steps) if isinstance(e, dict) and e["event_type"] != "web_vital"
    )
    hidden = last["touchpoint"]
    cls = 0.0 if rng.random() < 0.6 else round(_lognormal(rng, 0.06, 1.0), 4)
    steps.append((1.0, vital("CLS", cls, hidden)))
    if any(e["event_type"] == "interaction" for e in events):
        steps.append((0.0, vital("INP", _lognormal(rng, 150, 0.7), hidden)))
