"""A generated stream through broker and worker equals the pure reference logic exactly.

Covers every counter of the hard and soft KPIs (sessions, journeys, funnel,
NPS/CSAT/CES, sentiment, attribution, revenue) with batched messages, bad
input, withdrawals, duplicates and logins in the mix. A worker draining the
stream reads its partitions unevenly, so a device's event may reach the
customer on the other side of its login than in the reference; it counts the
same either way (docs/identity.md#exactness), so every counter is compared.
"""

from __future__ import annotations

from collections.abc import Callable

from tracker.metrics.samples import total
from tracker.testing.deployment import PSEUDONYM_KEY, Deployment, wait_until
from tracker.testing.streams import (
    counter_table,
    differences,
    expected_samples,
    generated_messages,
    produce,
)


def test_generated_stream_matches_reference(deployment_factory: Callable[..., Deployment]) -> None:
    messages = generated_messages(seed=11, events=4000, batch=10)
    expected = counter_table(expected_samples(messages, 4, PSEUDONYM_KEY))
    assert expected["tracker_sessions_closed_total{channel=web}"] > 100
    deployment = deployment_factory(TRACKER_IDLE_TIMEOUT="8")
    worker = deployment.worker().start()
    produce(deployment.broker.bootstrap, deployment.env["TRACKER_TOPIC"], messages)
    closed = sum(v for k, v in expected.items() if k.startswith("tracker_sessions_closed_total"))
    wait_until(
        lambda: total(worker.samples(), "tracker_sessions_closed_total") >= closed,
        120,
        "every session to close",
    )
    actual = counter_table(worker.samples())
    assert differences(actual, expected) == []
