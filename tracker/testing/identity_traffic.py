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
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from tracker.core.key_partition import partition_of
from tracker.testing.experience_traffic import Step

if TYPE_CHECKING:
    from tracker.testing.traffic import Message

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


def add_login(rng: random.Random, steps: list[Step], share: float = LOGIN_SHARE) -> bool:
    """Make a ``share`` of journeys anonymous until a login (``steps`` changed in place)."""
    events = [e for _, e in steps if isinstance(e, dict)]
    if len(events) < 3 or not events[0]["consent"]["analytics"] or rng.random() >= share:
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


def stream_end(messages: list[Message], partitions: int = 16) -> list[Message]:
    """A minute after the last message, a withdrawal of an unknown customer on every
    partition (of topics of up to ``partitions`` partitions).

    A claim waits until its device's partition reaches the identify's time; in a shop the
    other customers' events see to that. A stream that ends leaves the last claims to the
    idle rule, which moves each partition's watermark at its own wall-clock moment: their
    outcome would depend on that order. These messages move every watermark first, and
    count only as consent withdrawals (there is nothing to erase).
    """
    from tracker.testing.traffic import Message  # the generator imports this module

    if not messages:
        return messages
    at = max(m.timestamp_ms for m in messages) + 60_000
    names: list[str] = []
    for count in range(1, partitions + 1):
        for target in range(count):
            if not any(partition_of(n, count) == target for n in names):
                names.append(next(n for n in _names() if partition_of(n, count) == target))
    when = datetime.fromtimestamp(at / 1000, UTC).isoformat(timespec="milliseconds")
    consent = {"analytics": False, "marketing": False}
    end = []
    for name in names:
        event = {"schema_version": 1, "event_id": f"{name}-end", "event_type": "consent"}
        event.update(customer_id=name, occurred_at=when, channel="web")
        event.update(touchpoint="consent_banner", consent=consent)
        end.append(Message(name.encode(), orjson.dumps(event), at, 1))
    return [*messages, *end]


def _names() -> Iterator[str]:
    n = 0
    while True:
        yield f"stream-end-{n}"
        n += 1
