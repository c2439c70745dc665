"""Logins in generated journeys, for ``traffic.TrafficGenerator`` (docs/identity.md).

A share of consented journeys browse anonymously under a device id and log in
on the way to the cart or checkout: the snippet's ``identify`` links the device
to the customer, whose id keys the rest of the journey. Some of those customers
had the shop's app open already (a second device: the two sessions merge), and
some leave another tab that still reports under the device id.

Draws come from a ``random.Random`` of the journey's own (``side_rng``), so a
seed's journeys keep their events; the logins only re-key and add a few.
"""

from __future__ import annotations

import random
from typing import Any

Step = tuple[float, dict[str, Any] | bytes]
LOGIN_SHARE = 0.3  # of consented journeys of three events or more
SECOND_DEVICE_SHARE = 0.25  # of those: the customer's app session was open already
OTHER_TAB_SHARE = 0.2  # of those: a tab still sends under the device id after login
LOGIN_PAGES = ("cart", "checkout")
_TYPE_FIELDS: tuple[str, ...] = ("action", "order_id", "revenue", "currency", "nps", "csat")
_TYPE_FIELDS += ("ces", "comment", "language", "referrer", "campaign", "name", "value", "rating")
_TYPE_FIELDS += ("navigation_type",)


def side_rng(steps: list[Step]) -> random.Random:
    first = next((e for _, e in steps if isinstance(e, dict)), {})
    return random.Random(f"identity/{first.get('event_id', '')}")


def add_login(rng: random.Random, steps: list[Step]) -> bool:
    """Make a share of journeys anonymous until a login (``steps`` changed in place)."""
    events = [e for _, e in steps if isinstance(e, dict)]
    if len(events) < 3 or not events[0]["consent"]["analytics"] or rng.random() >= LOGIN_SHARE:
        return False
    customer = events[0]["customer_id"]
    device = f"anon-{rng.getrandbits(48):012x}"
    at = _login_point(rng, steps)
    for i in range(at):
        wait, event = steps[i]
        if isinstance(event, dict):
            steps[i] = (wait, {**event, "customer_id": device})
    page = next(e for _, e in steps[at:] if isinstance(e, dict))
    login = _like(page, f"{device}-login-{rng.getrandbits(32):08x}", "identify", customer)
    login.update(touchpoint="account", anonymous_id=device)
    steps.insert(at, (1.0, login))
    if rng.random() < OTHER_TAB_SHARE:
        tab = _like(events[0], f"{device}-tab-{rng.getrandbits(32):08x}", "page_view", device)
        steps.append((rng.uniform(2, 20), tab))
    if rng.random() < SECOND_DEVICE_SHARE:
        phone = _like(events[0], f"{customer}-app-{rng.getrandbits(32):08x}", "page_view", customer)
        phone.update(channel="app", touchpoint="app")
        phone.pop("user_agent", None)
        first_wait, first = steps[0]
        steps[0] = (rng.uniform(5, 60), first)
        steps.insert(0, (first_wait, phone))
    return True


def _login_point(rng: random.Random, steps: list[Step]) -> int:
    """Before the cart or checkout page, else somewhere after the first event."""
    for i, (_, event) in enumerate(steps):
        if i and isinstance(event, dict) and event.get("touchpoint") in LOGIN_PAGES:
            return i
    return rng.randrange(1, len(steps))


def _like(event: dict[str, Any], event_id: str, event_type: str, customer: str) -> dict[str, Any]:
    """An event of ``event_type`` sent like ``event`` (consent, channel, agent, account)."""
    out = {k: v for k, v in event.items() if k not in _TYPE_FIELDS}
    out.update(event_id=event_id, event_type=event_type, customer_id=customer)
    return out
