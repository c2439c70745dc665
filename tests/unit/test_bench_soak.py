"""The soak's traffic stays within a fixed population, so its state levels off."""

from __future__ import annotations

import random

import orjson

from bench.soak import POPULATION, _remap
from tracker.testing.traffic import TrafficGenerator


def test_customers_and_logged_in_devices_come_from_the_bounded_population() -> None:
    generator = TrafficGenerator(random.Random(3))
    messages = generator.simulate(4_000, 1_780_000_000_000, 100.0, max_batch=10)
    customers: set[str] = set()
    devices: set[str] = set()
    for message in messages:
        remapped = _remap(message.value)
        if remapped is None:
            continue
        decoded = orjson.loads(remapped[1])
        for item in decoded if isinstance(decoded, list) else [decoded]:
            customers.add(item["customer_id"])
            if "anonymous_id" in item:
                devices.add(item["anonymous_id"])
    assert devices, "the generated traffic logs in"
    assert all(c.startswith("pop-") and int(c[4:]) < POPULATION for c in customers)
    assert all(d.startswith("pop-") and int(d[4:]) < POPULATION for d in devices)
