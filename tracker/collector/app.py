"""The collector's HTTP surface: ``POST /v1/events`` and the endpoints around it.

Checks run cheapest first: origin, rate limit, content type, size, JSON,
bot, then per-event validation; only then the broker write. A 202 is sent
only once the broker acknowledged every accepted event; anything else the
broker did not store is a 503 with Retry-After, which the snippet retries.
What each limit protects against is in SECURITY.md.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from tracker.collector.body import hang_up, read_body
from tracker.collector.errors import BadBatchError
from tracker.collector.guards import BotFilter, OriginPolicy, client_address
from tracker.collector.intake import Intake, Message, decode, validate, without_user_agent
from tracker.collector.logs import RejectionLog
from tracker.collector.metrics import CollectorMetrics
from tracker.collector.openapi import OPENAPI_PATH, openapi_document
from tracker.collector.ratelimit import RateLimiter
from tracker.collector.segment import SegmentApi, add_routes
from tracker.collector.static import demo_handler, snippet_handler
from tracker.settings import Settings

log = logging.getLogger("tracker.collector")

Produce = Callable[[Sequence[Message], int], Awaitable[None]]
Ready = Callable[[], Awaitable[bool]]

EVENTS_PATH = "/v1/events"
# sendBeacon can only send CORS-safelisted types without a preflight: text/plain.
CONTENT_TYPES = frozenset({"application/json", "text/plain"})
PREFLIGHT_MAX_AGE = "86400"
KEEPALIVE_TIMEOUT = 75.0  # web.run_app's default, pinned: SECURITY.md promises it
METRICS_KEY = web.AppKey("metrics", CollectorMetrics)


class EventsEndpoint:
    def __init__(
        self,
        settings: Settings,
        produce: Produce,
        metrics: CollectorMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.produce = produce
        self.metrics = metrics
        self.clock = clock
        self.origins = OriginPolicy(settings.collector_allowed_origins)
        # Off for the snippet: no request is judged by its agent, and no event's agent
        # reaches the worker to be judged there (docs/metrics.md#bots).
        self.bots = (
            BotFilter(settings.collector_bot_user_agents)
            if "snippet" not in settings.bot_filter_off
            else None
        )
        self.limiter = RateLimiter(settings.collector_rate_limit, settings.collector_rate_burst)
        self.rejections = RejectionLog(log)

    async def preflight(self, request: web.Request) -> web.Response:
        origin = request.headers.get("Origin")
        if origin is None or not self.origins.allows(origin, request.host):
            self.metrics.request(403)
            return _json(403, {"error": "origin_not_allowed"})
        headers = {
            **self._cors(origin),
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        }
        self.metrics.request(204)
        return web.Response(status=204, headers=headers)

    async def post(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        # The record timestamp: when the events reached us, not when the broker wrote them.
        received_ms = time.time_ns() // 1_000_000
        response = await self._post(request, received_ms)
        if response.status == 408:
            await hang_up(request, response)
        self.metrics.request(response.status, time.perf_counter() - started)
        return response

    async def _post(self, request: web.Request, received_ms: int) -> web.Response:
        origin = request.headers.get("Origin")
        if not self.origins.allows(origin, request.host):
            return _json(403, {"error": "origin_not_allowed"})
        cors = self._cors(origin)
        client = client_address(
            request.remote,
            request.headers.get("X-Forwarded-For"),
            self.settings.collector_proxy_hops,
        )
        wait = self.limiter.check(client, self.clock())
        if wait > 0:
            headers = {**cors, "Retry-After": str(max(1, math.ceil(wait)))}
            return _json(429, {"error": "rate_limited"}, headers)
        if "Content-Type" in request.headers and request.content_type not in CONTENT_TYPES:
            detail = "send application/json or text/plain (sendBeacon)"
            return _json(415, {"error": "unsupported_media_type", "detail": detail}, cors)
        try:
            body = await read_body(
                request,
                self.settings.collector_max_body_bytes,
                self.settings.collector_read_timeout,
            )
            items = decode(body, self.settings.collector_max_events)
        except BadBatchError as exc:
            return _json(exc.status, {"error": exc.error, "detail": exc.detail}, cors)
        if self.bots is None:
            items = without_user_agent(items)
        else:
            bot = self.bots.reason(request.headers.get("User-Agent"))
            if bot is not None:
                self.metrics.bots.labels(bot).inc()
                self.metrics.count("bot", len(items))
                # 202: a bot has nothing to retry, and learns nothing from an error.
                return _json(202, {"accepted": 0, "dropped": len(items)}, cors)
        intake = validate(items)
        return await self._store(intake, received_ms, cors)

    async def _store(self, intake: Intake, received_ms: int, cors: dict[str, str]) -> web.Response:
        self.metrics.count("no_consent", intake.no_consent)
        self.metrics.count("rejected", len(intake.rejected))
        self.rejections.note(intake.rejected, self.clock())
        rejected = [r.as_json() for r in intake.rejected]
        if intake.accepted == 0 and intake.no_consent == 0:
            return _json(
                400, {"error": "invalid_events", "accepted": 0, "rejected": rejected}, cors
            )
        if intake.accepted:
            try:
                # asyncio.timeout, not wait_for: no extra task per request on the hot path.
                async with asyncio.timeout(self.settings.collector_produce_timeout):
                    await self.produce(intake.messages(), received_ms)
            except Exception as exc:  # whatever the cause, the broker has not confirmed
                log.warning("collector: %d events not stored: %r", intake.accepted, exc)
                self.metrics.count("unavailable", intake.accepted)
                headers = {**cors, "Retry-After": str(self.settings.collector_retry_after)}
                return _json(503, {"error": "unavailable", "detail": "retry later"}, headers)
            self.metrics.count("accepted", intake.accepted)
        body = {"accepted": intake.accepted, "rejected": rejected, "dropped": intake.no_consent}
        return _json(202, body, cors)

    @staticmethod
    def _cors(origin: str | None) -> dict[str, str]:
        if origin is None:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Expose-Headers": "Retry-After",  # the snippet backs off by it
            "Vary": "Origin",
        }


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json", headers=headers
    )


def build_collector_app(
    settings: Settings,
    produce: Produce,
    ready: Ready,
    clock: Callable[[], float] = time.monotonic,
) -> web.Application:
    """The collector; ``produce`` and ``ready`` are injected (a KafkaSink's in production).

    Serve it with ``server_options(settings)``: they bound what aiohttp reads before
    any handler runs, and leave gzip bodies to the handler.
    """
    app = web.Application(client_max_size=settings.collector_max_body_bytes)
    metrics = CollectorMetrics()
    app[METRICS_KEY] = metrics
    events = EventsEndpoint(settings, produce, metrics, clock)

    async def healthz(_request: web.Request) -> web.Response:
        return _json(200, {"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        ok = await ready()
        return _json(200 if ok else 503, {"ready": ok})

    async def metrics_page(_request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    document = orjson.dumps(openapi_document(settings))

    async def openapi(_request: web.Request) -> web.Response:
        return web.Response(body=document, content_type="application/json")

    app.router.add_post(EVENTS_PATH, events.post)
    app.router.add_route("OPTIONS", EVENTS_PATH, events.preflight)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_get("/tracker.js", snippet_handler())
    app.router.add_get(OPENAPI_PATH, openapi)
    add_routes(app, SegmentApi(settings, produce, metrics))  # docs/segment.md
    if settings.collector_demo:
        demo = demo_handler()

        async def to_demo(_request: web.Request) -> web.Response:
            raise web.HTTPFound("/demo/")

        app.router.add_get("/", to_demo)
        app.router.add_get("/demo", to_demo)
        app.router.add_get("/demo/{tail:.*}", demo)
    return app


def server_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for aiohttp's server (``web.run_app``, ``AppRunner``, ``TestServer``)."""
    return {
        # The handler inflates gzip bodies itself, within the body limit (body.py).
        "auto_decompress": False,
        # Also closes a connection that never completes its request line and headers.
        "keepalive_timeout": KEEPALIVE_TIMEOUT,
        # Longer request lines or header fields are answered 400 by aiohttp itself.
        "max_line_size": settings.collector_max_header_bytes,
        "max_field_size": settings.collector_max_header_bytes,
    }
