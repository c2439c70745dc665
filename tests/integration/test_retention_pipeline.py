"""The golden retention stories through the real broker and worker: the hand-worked figures.

Read while the reference time is the end of the stream (a long idle timeout), as
the golden reach figures are: the twelve clock customers end the stream on every
partition, so every lapse is due.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from tests.unit.test_golden_retention import EXPECTED, STREAM, check
from tracker.metrics.samples import total
from tracker.testing.deployment import Deployment, wait_until

COUNTED = (
    sum(
        1
        for line in STREAM.read_bytes().splitlines()
        if orjson.loads(line)["consent"]["analytics"] and b"r07-withdrawn" not in line
    )
    + 2
)  # r07's two orders counted before its withdrawal; its page view after it is not


def test_golden_retention_on_the_real_broker(deployment_factory: Callable[..., Deployment]) -> None:
    deployment = deployment_factory(TRACKER_IDLE_TIMEOUT="100000")
    worker = deployment.worker().start()
    deployment.tracker("replay", str(STREAM), "--as-fast-as-possible")
    wait_until(
        lambda: total(worker.samples(), "tracker_events_total") == COUNTED,
        60,
        f"the {COUNTED} golden retention events counted",
    )
    wait_until(
        lambda: total(worker.samples(), "tracker_customers_lapsed", channel="all") == 2,
        30,
        "the two lapses due at the end of the stream",
    )
    check(worker.samples(), EXPECTED)
