"""``tracker collector``: find the broker, serve HTTP; the sink connects in the background."""

from __future__ import annotations

import sys

from aiohttp import web

from tracker.collector.app import build_collector_app, server_options
from tracker.collector.logs import configure_logging
from tracker.collector.sink import KafkaSink
from tracker.heap import settle_heap
from tracker.kafka.broker import resolve
from tracker.settings import Settings


def run_collector(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM; a local broker this call started is stopped on exit."""
    configure_logging()
    handle = resolve(settings)
    try:
        sink = KafkaSink(settings, handle.bootstrap)
        app = build_collector_app(settings, sink.produce, sink.reachable)

        async def connect(_app: web.Application) -> None:
            await sink.start()

        async def disconnect(_app: web.Application) -> None:
            await sink.stop()

        app.on_startup.append(connect)
        app.on_cleanup.append(disconnect)
        base = f"http://{settings.collector_host}:{settings.collector_port}"
        print(
            f"tracker collector: {base}/v1/events -> topic {settings.topic} on {handle.url}",
            file=sys.stderr,
            flush=True,
        )
        settle_heap()
        web.run_app(
            app,
            host=settings.collector_host,
            port=settings.collector_port,
            access_log=None,  # one log line per beacon would cost more than the request
            print=None,
            **server_options(settings),
        )
    finally:
        handle.stop()
