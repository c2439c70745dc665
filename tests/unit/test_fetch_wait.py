"""The consumer's fetch wait and fetch size are the tracker's settings, not Faust's fixed ones."""

from __future__ import annotations

import asyncio
from pathlib import Path

import faust

from tests.unit.helpers import config
from tracker.settings import Settings
from tracker.stream.app import build_worker_app
from tracker.stream.faust_patches import shape_fetches
from tracker.stream.pipeline import WorkerState


def _fetch_shape_of_a_new_worker_consumer() -> tuple[int, int]:
    async def build() -> tuple[int, int]:
        app = faust.App("test-fetch-wait", broker="kafka://127.0.0.1:1")
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        try:
            return int(consumer._fetch_max_wait_ms), int(consumer._fetch_min_bytes)
        finally:
            await consumer.stop()  # never started: only releases it

    return asyncio.run(build())


def test_the_settings_reach_the_aiokafka_consumer_and_can_change() -> None:
    shape_fetches(0.25, 4096)
    assert _fetch_shape_of_a_new_worker_consumer() == (250, 4096)
    shape_fetches(2, 1)  # applied again (a second app in one process): replaces, not stacks
    assert _fetch_shape_of_a_new_worker_consumer() == (2000, 1)


def test_the_worker_app_shapes_its_consumer_from_its_settings(tmp_path: Path) -> None:
    async def build() -> tuple[int, int]:
        settings = Settings(fetch_max_wait=0.3, fetch_min_bytes=2048, data_dir=tmp_path)
        app = build_worker_app(WorkerState(settings, config(), 8), "127.0.0.1:1")
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        try:
            return int(consumer._fetch_max_wait_ms), int(consumer._fetch_min_bytes)
        finally:
            await consumer.stop()

    assert asyncio.run(build()) == (300, 2048)


def test_by_default_a_fetch_gathers_64_kib_for_at_most_a_tenth_of_a_second() -> None:
    settings = Settings()
    assert (settings.fetch_max_wait, settings.fetch_min_bytes) == (0.1, 65_536)
