"""Identity records arrive in any interleaving with the input: the totals stay the reference's.

The reference pipeline delivers every identity record at once. Through Kafka a claim,
its reply and a forwarded event land later, between any of the messages that follow;
holding the customer's events until the hand-over lands makes the outcome the same.
Each scenario runs with the records delivered at random points (many seeds) and must
end with the reference's counters, except ``tracker_events_forwarded_total``: an event
sent under the device id before its claim landed is the device's own, not forwarded.

A withdrawal or erasure racing a hand-over is settled in order of arrival
(docs/identity.md#exactness): those scenarios let the hand-over land first (SETTLE).
A claim waits until the device's partition reaches the identify's time: a consent grant
of another customer of that partition (carl's on 2, dev-carl's and laptop-anna's on 1)
stands for the shop's other traffic.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.helpers import HOUR, MIN, config, ev
from tests.unit.identity_cluster import Cluster
from tests.unit.test_identity import per_channel_invariant

Message = dict[str, Any] | list[dict[str, Any]] | tuple[str, str, float] | str
SETTLE = "settle"  # every record in flight lands before the next message
RUNS = 40


def story() -> list[Message]:
    return [
        ev("page_view", "dev-anna", 0, touchpoint="product"),
        ev("interaction", "dev-anna", 40, touchpoint="cart", action="add_to_cart"),
        [
            ev("identify", "anna", 60, anonymous_id="dev-anna", touchpoint="account"),
            ev("page_view", "anna", 61, touchpoint="checkout"),
        ],
        ev("consent", "carl", 75),  # other traffic moves partition 2's watermark past 60
        ev("page_view", "dev-anna", 70, touchpoint="product"),  # another tab
        ev("order", "anna", 90, touchpoint="checkout"),
        ev("page_ping", "dev-anna", 100),
    ]


def two_devices() -> list[Message]:
    return [
        ev("page_view", "anna", 0, channel="app", touchpoint="app"),
        ev("page_view", "laptop-anna", 20, touchpoint="product"),
        ev("identify", "anna", 40, anonymous_id="laptop-anna"),
        ev("consent", "dev-carl", 55),  # partition 1's watermark past 40
        ev("interaction", "anna", 50, channel="app", action="search"),
        ev("page_view", "laptop-anna", 60, touchpoint="cart"),
        ev("order", "anna", 80, channel="app"),
    ]


def guest_then_customer() -> list[Message]:
    return [
        ev("order", "dev-anna", 0, touchpoint="checkout"),
        ev("feedback", "dev-anna", 10, nps=10, comment="good", language="en"),
        ev("identify", "anna", 2 * MIN, anonymous_id="dev-anna"),
        ev("order", "anna", 3 * MIN, touchpoint="checkout"),
        ev("consent", "carl", 3 * MIN),
    ]


def erased_after_login() -> list[Message]:
    return [
        ev("page_view", "dev-anna", 0),
        ev("identify", "anna", 30, anonymous_id="dev-anna"),
        ev("page_view", "anna", 31, touchpoint="cart"),
        ev("consent", "carl", 45),
        SETTLE,
        ("erase", "anna", 60),
        ev("page_view", "dev-anna", 90),
        ev("page_view", "anna", 95),
    ]


def device_withdraws_after_login() -> list[Message]:
    return [
        ev("page_view", "dev-carl", 0),
        [ev("identify", "carl", 30, anonymous_id="dev-carl"), ev("page_view", "carl", 31)],
        ev("consent", "laptop-anna", 45),
        SETTLE,
        ev("consent", "dev-carl", 5 * MIN, analytics=False),
        SETTLE,  # forwarded to carl: it lands before carl's next event
        ev("page_view", "carl", 6 * MIN),
    ]


SCENARIOS: dict[str, Callable[[], list[Message]]] = {
    f.__name__: f
    for f in (
        story,
        two_devices,
        guest_then_customer,
        erased_after_login,
        device_withdraws_after_login,
    )
}


def feed(cluster: Cluster, message: Message) -> None:
    from tests.unit.helpers import encode, ms

    if message == SETTLE:
        cluster.settle()
    elif isinstance(message, tuple):
        cluster.erase(message[1], ms(message[2]))
    elif isinstance(message, list):
        at = max(ms_of(e) for e in message)
        cluster.raw(message[0]["customer_id"].encode(), encode(message), at)
    else:
        cluster.raw(message["customer_id"].encode(), encode(message), ms_of(message))


def ms_of(event: dict[str, Any]) -> int:
    from tests.unit.identity_cluster import _ms

    return _ms(event["occurred_at"])


def counters(cluster: Cluster) -> dict[str, int]:
    """Every counter summed over the partitions (revenue too), forwarded events aside."""
    summed: dict[str, int] = {}
    for proc in cluster.procs.values():
        for key, n in proc.aggregates.counters.items():
            if not key.startswith("tracker_events_forwarded_total"):
                summed[key] = summed.get(key, 0) + n
        for currency, amount in proc.aggregates.revenue.items():
            summed[f"revenue|{currency}"] = summed.get(f"revenue|{currency}", 0) + int(amount * 100)
    return {k: v for k, v in summed.items() if v}


def run(messages: list[Message], rng: random.Random | None) -> Cluster:
    cfg = config(idle_timeout=10 * HOUR, identity_hold_timeout=HOUR)
    cluster = Cluster(4, cfg, auto=rng is None)
    for message in messages:
        feed(cluster, message)
        if rng is not None:
            for _ in range(rng.randint(0, 3)):  # some of what is in flight lands now
                cluster.deliver(rng.randint(0, 2))
                cluster.consume(rng.randrange(4) if rng.random() < 0.5 else None)
    cluster.settle()
    cluster.close_all()
    return cluster


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_any_interleaving_of_the_identity_records_gives_the_reference_totals(
    scenario: str,
) -> None:
    messages = SCENARIOS[scenario]()
    expected = counters(run(messages, None))
    assert expected["tracker_identity_links_total"] == 1
    journals = set()
    for seed in range(RUNS):
        cluster = run(messages, random.Random(seed))
        assert counters(cluster) == expected, f"{scenario}, seed {seed}"
        journals.add(tuple(tuple(cluster.journal[p]) for p in range(4)))
    assert per_channel_invariant(cluster) == {}
    if SETTLE not in messages:
        assert len(journals) > 1, "the seeds played different interleavings"
