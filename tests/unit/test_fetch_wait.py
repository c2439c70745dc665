"""The consumer's fetch wait is the tracker's setting, not Faust's fixed 1.5 s."""

from __future__ import annotations

import asyncio

import faust

from tracker.stream.faust_patches import cap_fetch_wait


def _fetch_wait_ms_of_a_new_worker_consumer() -> int:
    async def build() -> int:
        app = faust.App("test-fetch-wait", broker="kafka://127.0.0.1:1")
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        try:
            return int(consumer._fetch_max_wait_ms)
        finally:
            await consumer.stop()  # never started: only releases it

    return asyncio.run(build())


def test_the_setting_reaches_the_aiokafka_consumer_and_can_change() -> None:
    cap_fetch_wait(0.25)
    assert _fetch_wait_ms_of_a_new_worker_consumer() == 250
    cap_fetch_wait(2)  # applied again (a second app in one process): replaces, not stacks
    assert _fetch_wait_ms_of_a_new_worker_consumer() == 2000
