"""Shared pieces of the collector's unit tests: settings, a fake broker, a test client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tracker.collector import Message, build_collector_app, server_options
from tracker.metrics.samples import parse_exposition, total
from tracker.settings import Settings, load_settings

Client = TestClient[web.Request, web.Application]
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
# Explicit values, so a TRACKER_* variable in the developer's shell cannot change a test.
COLLECTOR_DEFAULTS: dict[str, Any] = {
    "collector_max_body_bytes": 65_536,
    "collector_max_events": 100,
    "collector_allowed_origins": (),
    "collector_rate_limit": 0,
    "collector_rate_burst": 100,
    "collector_proxy_hops": 0,
    "collector_produce_timeout": 5,
    "collector_retry_after": 5,
    "collector_demo": False,
    "collector_read_timeout": 10,
    "collector_max_header_bytes": 8190,
}


def collector_settings(**overrides: Any) -> Settings:
    return load_settings(**{**COLLECTOR_DEFAULTS, **overrides})


@dataclass
class FakeBroker:
    """The injected producer: records what the collector would have written."""

    written: list[tuple[list[Message], int]] = field(default_factory=list)
    error: Exception | None = None
    hang: bool = False
    ready: bool = True

    async def produce(self, messages: Sequence[Message], timestamp_ms: int) -> None:
        if self.hang:
            await asyncio.sleep(3600)
        if self.error is not None:
            raise self.error
        self.written.append((list(messages), timestamp_ms))

    async def reachable(self) -> bool:
        return self.ready

    @property
    def messages(self) -> list[Message]:
        return [m for batch, _ in self.written for m in batch]

    def events(self) -> list[dict[str, Any]]:
        return [e for m in self.messages for e in orjson.loads(m.value)]


@asynccontextmanager
async def collector(
    broker: FakeBroker | None = None,
    clock: Callable[[], float] | None = None,
    **overrides: Any,
) -> AsyncIterator[Client]:
    fake = broker or FakeBroker()
    settings = collector_settings(**overrides)
    app = build_collector_app(settings, fake.produce, fake.reachable, clock or time.monotonic)
    server = TestServer(app)
    await server.start_server(**server_options(settings))  # TestServer() drops them
    client = TestClient(server)
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def post(
    client: Client,
    events: Any,
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    body = events if isinstance(events, bytes) else orjson.dumps(events)
    sent = {"Content-Type": content_type, "User-Agent": BROWSER_UA, **(headers or {})}
    response = await client.post("/v1/events", data=body, headers=sent)
    payload = orjson.loads(await response.read() or b"null")
    return response.status, payload, dict(response.headers)


async def metric(client: Client, name: str, **labels: str) -> float:
    response = await client.get("/metrics")
    return total(parse_exposition(await response.text()), name, **labels)
