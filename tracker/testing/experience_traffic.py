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

Step = tuple[float, dict[str, Any] | bytes]  # (seconds after the previous step, event)
NAVIGATIONS = (("navigate", 90), ("reload", 6), ("back-forward", 4))


def side_rng(steps: list[Step], purpose: str = "vitals") -> random.Random:
    """A journey's own draws for ``purpose``, seeded by its first event's id (repeatable)."""
    first = next((e for _, e in steps if isinstance(e, dict)), {})
    return random.Random(f"experience/{purpose}/{first.get('event_id', '')}")


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


# --- support ---------------------------------------------------------------------------------

SUPPORT_SHARE = 0.06  # of journeys: the customer contacts support
SUPPORT_CHANNELS = (("chat", 45), ("phone", 25), ("email", 22), ("social", 8))
# Medians of first response and of the time from it to resolution, in seconds.
RESPONSE = {"chat": 60, "phone": 45, "email": 4 * 3600, "social": 90 * 60}
RESOLUTION = {"chat": 300, "phone": 180, "email": 86400, "social": 6 * 3600}
_CHANNEL_OF = {"phone": "call_center", "email": "email", "social": "social"}


def add_support(rng: random.Random, steps: list[Step]) -> None:
    """A support contact, the agents' reply and resolution, sometimes a reopen and a rating.

    A chat happens during the visit (what follows it, an order too, comes after the
    answer); a call, an e-mail or a social post after it. Agents send their events
    without the customer's consent (they do not know it): the ticket's counts.
    """
    events = [e for _, e in steps if isinstance(e, dict)]
    if not events or rng.random() >= SUPPORT_SHARE:
        return
    via = rng.choices([c for c, _ in SUPPORT_CHANNELS], weights=[w for _, w in SUPPORT_CHANNELS])[0]
    last = events[-1]
    channel = _CHANNEL_OF.get(via) or ("web" if last["channel"] == "web" else last["channel"])
    ticket = f"T{rng.getrandbits(40):010x}"

    def event(kind: str, of: dict[str, Any], agent: bool) -> dict[str, Any]:
        consent = {"analytics": False, "marketing": False} if agent else of["consent"]
        return {
            "schema_version": 1,
            "event_id": f"{rng.getrandbits(64):016x}-s",
            "event_type": kind,
            "customer_id": of["customer_id"],
            "channel": channel,
            "touchpoint": "support",
            "consent": consent,
            "ticket_id": ticket,
            "support_channel": via,
        }

    at = rng.randrange(1, len(steps) + 1) if via == "chat" and len(steps) > 1 else len(steps)
    of = next((e for _, e in reversed(steps[:at]) if isinstance(e, dict)), events[0])
    reply = _lognormal(rng, RESPONSE[via], 0.9)
    steps.insert(
        at,
        (
            rng.uniform(5, 60) if at < len(steps) else rng.uniform(30, 600),
            event("support_contact", of, False),
        ),
    )
    steps.insert(at + 1, (reply, event("support_reply", of, True)))
    if rng.random() < 0.85:
        steps.append((_lognormal(rng, RESOLUTION[via], 0.9), event("support_resolved", of, True)))
        if rng.random() < 0.25:  # a rating right after: in the session of a chat or a call
            answer = {"csat": rng.choices(range(1, 6), weights=[1, 1, 2, 4, 5])[0]}
            if rng.random() < 0.5:
                answer["ces"] = rng.randint(1, 7)
            rating = {**event("feedback", of, False), **answer, "touchpoint": "survey"}
            for key in ("ticket_id", "support_channel"):
                rating.pop(key)
            steps.append((rng.uniform(60, 600), rating))
        elif rng.random() < 0.08:  # not solved after all: the customer comes back
            steps.append((rng.uniform(3600, 2 * 86400), event("support_contact", of, False)))
            steps.append(
                (_lognormal(rng, RESOLUTION[via], 0.9), event("support_resolved", of, True))
            )


# --- live experiments ------------------------------------------------------------------------

EXPERIMENT_SHARE = 0.4  # of consented web journeys: in the checkout-button test
# The demo's test (TRACKER_EXPERIMENTS' default): green lifts conversion, blue does not.
VARIANT_WEIGHTS = {True: (30, 40, 30), False: (34, 32, 34)}  # by whether the journey converts
VARIANTS = ("control", "green", "blue")
UNLISTED_SHARE = 0.03  # an experiment the allow-list does not name: never counted


def add_experiment(rng: random.Random, steps: list[Step]) -> None:
    """The snippet's ``tracker.experiment()``: the pair on every web event from the first.

    Agents' support events come from the support team's systems, not the browser.
    """
    events = [e for _, e in steps if isinstance(e, dict)]
    if not events or events[0]["channel"] != "web" or not events[0]["consent"]["analytics"]:
        return
    if rng.random() >= EXPERIMENT_SHARE:
        return
    if rng.random() < UNLISTED_SHARE:
        pair = {"experiment": "old-banner", "variant": "control"}
    else:
        converted = any(e["event_type"] == "order" for e in events)
        variant = rng.choices(VARIANTS, weights=VARIANT_WEIGHTS[converted])[0]
        pair = {"experiment": "checkout-button", "variant": variant}
    for event in events:
        if event["channel"] == "web" and event["event_type"] not in (
            "support_reply",
            "support_resolved",
        ):
            event.update(pair)
