"""Segment's HTTP Tracking API v1 on the collector (docs/segment.md).

``POST /v1/batch`` and the single calls ``/v1/track``, ``/v1/page``, ``/v1/screen``,
``/v1/identify``, ``/v1/alias`` and ``/v1/group``: the unmodified Segment and
RudderStack SDKs, pointed at the collector, send here. Checks run cheapest first:
write key (HTTP Basic), content type, body size (gzip inflated within the limit),
JSON; then each message is mapped (``segment_map``) and validated on its own, so a
bad message is answered in the response and never costs the good ones. 200 with
``{"success": true}`` only once the broker acknowledged every accepted event.

No rate limit per client address: server SDKs send a shop's whole traffic from a
few addresses, and every request carries a write key.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from tracker.collector.body import hang_up, read_body
from tracker.collector.errors import BadBatchError
from tracker.collector.intake import Message
from tracker.collector.metrics import CollectorMetrics
from tracker.collector.segment_auth import WriteKey, authenticate, parse_write_keys
from tracker.collector.segment_map import Invalid, Mapped, Skipped, Source, map_message
from tracker.core.batching import pack
from tracker.settings import Settings

log = logging.getLogger("tracker.collector")

Produce = Callable[[Sequence[Message], int], Awaitable[None]]
MAX_BATCH_BYTES = 500 * 1024  # Segment's limit per request
CALLS = ("track", "page", "screen", "identify", "alias", "group")
CONTENT_TYPES = frozenset({"application/json", "text/plain"})  # analytics.js: text/plain
BASIC_REALM = {"WWW-Authenticate": 'Basic realm="write key"'}


@dataclass(slots=True)
class Sorted:
    """What became of each message of one request."""

    groups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    accepted: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: {"no_consent": 0, "ignored": 0})
    rejected: list[dict[str, Any]] = field(default_factory=list)


def sort_messages(items: list[Any], kind: str | None, source: Source, received: str) -> Sorted:
    out = Sorted()
    for index, item in enumerate(items):
        result = map_message(item, kind, source, received)
        if isinstance(result, Mapped):
            out.groups.setdefault(result.customer, []).append(result.event)
            out.accepted += 1
        elif isinstance(result, Skipped):
            out.skipped[result.outcome] += 1
        else:
            out.rejected.append(_rejection(index, item, result))
    return out


def _rejection(index: int, item: Any, result: Invalid) -> dict[str, Any]:
    message_id = item.get("messageId") if isinstance(item, dict) else None
    return {
        "index": index,
        "messageId": message_id[:64] if isinstance(message_id, str) else None,
        "errors": list(result.errors),
    }


def messages_of(
    groups: dict[str, list[dict[str, Any]]], max_events: int, max_bytes: int
) -> list[Message]:
    """One Kafka message per customer, split where the worker's message limits would be
    crossed (TRACKER_MAX_MESSAGE_EVENTS, TRACKER_MAX_MESSAGE_BYTES)."""
    return [
        Message(customer.encode(), value, count)
        for customer, events in groups.items()
        for value, count in pack(map(orjson.dumps, events), max_events, max_bytes)
    ]


def items_of(decoded: Any, kind: str | None) -> tuple[list[Any], dict[str, Any]]:
    """The messages of a body, each with the batch's context and sentAt folded in."""
    if not isinstance(decoded, dict):
        raise BadBatchError(400, "invalid_json", "the body must be a JSON object")
    if kind is not None:
        return [decoded], {}
    batch = decoded.get("batch")
    if not isinstance(batch, list) or not batch:
        raise BadBatchError(400, "invalid_json", 'a batch is {"batch": [message, …]}')
    shared = {k: decoded[k] for k in ("context", "sentAt") if k in decoded}
    return batch, shared


def _fold(item: Any, shared: dict[str, Any]) -> Any:
    if not shared or not isinstance(item, dict):
        return item
    sent = "sentAt" in shared and "sentAt" not in item
    context = shared.get("context")
    if not sent and not isinstance(context, dict):
        return item  # the common case: SDKs put sentAt on the batch only when items lack it
    folded = dict(item)
    if sent:
        folded["sentAt"] = shared["sentAt"]
    if isinstance(context, dict):
        own = folded.get("context")
        folded["context"] = {**context, **own} if isinstance(own, dict) else context
    return folded


class SegmentApi:
    def __init__(self, settings: Settings, produce: Produce, metrics: CollectorMetrics) -> None:
        self.settings = settings
        self.produce = produce
        self.metrics = metrics
        self.keys: tuple[WriteKey, ...] = parse_write_keys(settings.write_keys)
        categories = tuple(
            (name, target)
            for name, _, target in (p.partition(":") for p in settings.segment_consent_categories)
        )
        user_agents = "segment" not in settings.bot_filter_off
        self.sources = {
            upstream: Source(upstream, categories, user_agents) for upstream in (False, True)
        }

    def handler(self, kind: str | None) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            received_ms = time.time_ns() // 1_000_000
            response = await self._post(request, kind, received_ms)
            self.metrics.segment_requests.labels(str(response.status)).inc()
            if response.status == 408:
                await hang_up(request, response)
            return response

        return handle

    async def _post(self, request: web.Request, kind: str | None, received_ms: int) -> web.Response:
        key = authenticate(request.headers.get("Authorization"), self.keys)
        if isinstance(key, str):
            self.metrics.auth_failures[key].inc()
            return _json(401, {"success": False, "error": "unauthorized"}, BASIC_REALM)
        if "Content-Type" in request.headers and request.content_type not in CONTENT_TYPES:
            return _json(415, {"success": False, "error": "unsupported_media_type"})
        try:
            body = await read_body(request, MAX_BATCH_BYTES, self.settings.collector_read_timeout)
            try:
                decoded = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise BadBatchError(400, "invalid_json", f"not UTF-8 JSON: {exc}") from None
            items, shared = items_of(decoded, kind)
        except BadBatchError as exc:
            return _json(exc.status, {"success": False, "error": exc.error, "detail": exc.detail})
        received = datetime.fromtimestamp(received_ms / 1000, UTC).isoformat(
            timespec="milliseconds"
        )
        source = self.sources[key.upstream_consent]
        result = sort_messages([_fold(item, shared) for item in items], kind, source, received)
        return await self._store(result, received_ms)

    async def _store(self, result: Sorted, received_ms: int) -> web.Response:
        counts = self.metrics.segment_messages
        counts["rejected"].inc(len(result.rejected))
        counts["no_consent"].inc(result.skipped["no_consent"])
        counts["ignored"].inc(result.skipped["ignored"])
        body: dict[str, Any] = {"success": True, "accepted": result.accepted}
        if result.rejected:
            body["rejected"] = result.rejected
        if result.accepted == 0 and not any(result.skipped.values()):
            return _json(400, {**body, "success": False, "error": "invalid_messages"})
        if result.accepted:
            settings = self.settings
            messages = messages_of(
                result.groups, settings.max_message_events, settings.max_message_bytes
            )
            try:
                async with asyncio.timeout(settings.collector_produce_timeout):
                    await self.produce(messages, received_ms)
            except Exception as exc:  # whatever the cause, the broker has not confirmed
                log.warning("segment: %d events not stored: %r", result.accepted, exc)
                counts["unavailable"].inc(result.accepted)
                headers = {"Retry-After": str(settings.collector_retry_after)}
                return _json(503, {"success": False, "error": "unavailable"}, headers)
            counts["accepted"].inc(result.accepted)
        return _json(200, body)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json", headers=headers
    )


def add_routes(app: web.Application, api: SegmentApi) -> None:
    app.router.add_post("/v1/batch", api.handler(None))
    for call in CALLS:
        app.router.add_post(f"/v1/{call}", api.handler(call))
