"""The collector's own attack surface (issue 22): gzip bombs, stalled clients,
oversized headers, deep JSON and a flood from one client, each against the real app."""

from __future__ import annotations

import asyncio
import gzip
import io
import logging
import time
import tracemalloc

import orjson
import pytest

from tests.unit.collector_support import BROWSER_UA, FakeBroker, collector, metric, post
from tests.unit.helpers import ev
from tracker.collector.body import BodyDecoder
from tracker.collector.errors import BadBatchError
from tracker.collector.intake import decode
from tracker.collector.logs import ClientErrorFilter, OneLineFormatter

GZIP = {"Content-Encoding": "gzip"}


def _bomb(size: int) -> bytes:
    """A gzip body that inflates ~1000-fold: a valid JSON array padded with spaces."""
    return gzip.compress(b"[" + b" " * size + b"]", compresslevel=9)


async def test_gzip_bodies_are_accepted_like_plain_ones() -> None:
    broker = FakeBroker()
    events = [ev("page_view", "ana", 0), ev("order", "ana", 1)]
    async with collector(broker) as client:
        status, body, _ = await post(client, gzip.compress(orjson.dumps(events)), headers=GZIP)
        assert (status, body["accepted"]) == (202, 2)
        # Several gzip members one after the other are one body (RFC 1952).
        two = gzip.compress(b"[") + gzip.compress(orjson.dumps(events[0])[0:] + b"]")
        status, body, _ = await post(client, two, headers={"Content-Encoding": "x-gzip"})
        assert (status, body["accepted"]) == (202, 1)
    assert broker.events() == [*events, events[0]]


async def test_a_decompression_bomb_is_413_at_the_decompressed_limit() -> None:
    bomb = _bomb(60_000_000)
    assert len(bomb) < 65_536, "small on the wire: only the decompressed size can stop it"
    async with collector() as client:
        started = time.perf_counter()
        status, body, _ = await post(client, bomb, headers=GZIP)
        assert (status, body["error"]) == (413, "too_large")
        assert "decompressed" in body["detail"]
        assert time.perf_counter() - started < 2, "stopped at the limit, not inflated whole"
        # Just under the limit once inflated: accepted as far as size goes.
        fits = gzip.compress(orjson.dumps([ev("page_view", "ana", 0)]).ljust(65_536))
        assert (await post(client, fits, headers=GZIP))[0] == 202


def test_the_decoder_never_holds_more_than_the_limit() -> None:
    bomb = _bomb(60_000_000)
    decoder = BodyDecoder(limit=65_536, gzipped=True)
    tracemalloc.start()
    try:
        with pytest.raises(BadBatchError) as caught:
            decoder.feed(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.status == 413
    assert peak < 1_000_000, f"inflated {peak} bytes for a 64 KiB limit"


@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [
        (b"\x1f\x8bnot gzip at all", GZIP, 400, "invalid_gzip"),
        (b'[{"plain": "json"}]', GZIP, 400, "invalid_gzip"),
        (gzip.compress(b'[{"a": 1}]')[:-6], GZIP, 400, "invalid_gzip"),  # cut short
        (gzip.compress(b"[1]") + b"trailing", GZIP, 400, "invalid_gzip"),
        (b"", GZIP, 400, "invalid_gzip"),
        (b"[1]", {"Content-Encoding": "br"}, 415, "unsupported_encoding"),
        (b"[1]", {"Content-Encoding": "gzip, gzip"}, 415, "unsupported_encoding"),
    ],
)
async def test_bad_encodings_are_client_errors(
    body: bytes, headers: dict[str, str], status: int, error: str
) -> None:
    async with collector() as client:
        got, reply, _ = await post(client, body, headers=headers)
    assert (got, reply["error"]) == (status, error)


async def test_the_wire_size_is_limited_too() -> None:
    noise = bytes(range(256)) * 300  # incompressible: 76,800 bytes on the wire
    async with collector() as client:
        status, reply, _ = await post(client, gzip.compress(noise), headers=GZIP)
    assert (status, reply["error"]) == (413, "too_large")


async def test_a_deep_json_body_is_400_not_a_recursion_error() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(BadBatchError, match="not UTF-8 JSON"):
        decode(deep, max_events=100)
    async with collector(collector_max_body_bytes=300_000) as client:
        status, reply, _ = await post(client, deep)
        assert (status, reply["error"]) == (400, "invalid_json")
        # Deep properties inside a small, otherwise valid event: past what orjson writes.
        nested = b'{"a":' * 1000 + b"{}" + b"}" * 1000
        event = orjson.dumps(ev("page_view", "ana", 0))[:-1] + b',"properties":' + nested + b"}"
        status, reply, _ = await post(client, b"[" + event + b"]")
        assert status == 400
        assert reply["rejected"][0]["errors"][0]["rule"] == "out_of_range:properties"
    async with collector() as client:  # the default limit stops it before any parsing
        status, reply, _ = await post(client, gzip.compress(deep), headers=GZIP)
        assert (status, reply["error"]) == (413, "too_large")


async def _raw(port: int, request: bytes, wait: float) -> tuple[bytes, float]:
    """Send ``request`` and read until the server closes; (bytes read, seconds taken)."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    try:
        answer = await asyncio.wait_for(reader.read(), wait)
    finally:
        writer.close()
    return answer, time.perf_counter() - started


async def test_a_stalled_body_is_cut_off_while_others_are_served() -> None:
    head = (
        b"POST /v1/events HTTP/1.1\r\nHost: collector\r\nContent-Type: application/json\r\n"
        b"Content-Length: 500\r\nUser-Agent: " + BROWSER_UA.encode() + b"\r\n\r\n"
    )
    async with collector(collector_read_timeout=0.5) as client:
        port = client.port
        assert port is not None
        stalled = asyncio.create_task(_raw(port, head, wait=5))
        dripping = asyncio.create_task(_raw(port, head + b"[", wait=5))
        await asyncio.sleep(0.1)
        assert (await post(client, [ev("page_view", "ana", 0)]))[0] == 202
        for answer, seconds in (await stalled, await dripping):
            assert answer.startswith(b"HTTP/1.1 408"), answer[:40]
            assert b'"error":"timeout"' in answer
            # Closed at once: aiohttp's lingering read would hold it 10 s longer.
            assert seconds < 3
        assert await metric(client, "tracker_collector_requests_total", code="408") == 2


async def test_oversized_headers_are_400_never_500() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter())
    server_log = logging.getLogger("aiohttp.server")
    quiet = ClientErrorFilter()
    server_log.addHandler(handler)
    server_log.addFilter(quiet)
    try:
        async with collector() as client:
            cookie = {"Cookie": "session=" + "x" * 9000}
            response = await client.post("/v1/events", data=b"[]", headers=cookie)
            assert response.status == 400
            many = {f"X-Header-{i}": "1" for i in range(200)}
            response = await client.post("/v1/events", data=b"[]", headers=many)
            assert response.status == 400
        async with collector(collector_max_header_bytes=16_384) as client:
            status, _, _ = await post(client, [ev("page_view", "ana", 0)], headers=cookie)
            assert status == 202, "a larger limit lets big cookies through"
    finally:
        server_log.removeHandler(handler)
        server_log.removeFilter(quiet)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, "one line per malformed request, no traceback"
    assert all("malformed request from 127.0.0.1 answered 400" in line for line in lines)


async def test_a_flood_from_one_client_is_429_while_others_are_served() -> None:
    broker = FakeBroker()
    limits = {"collector_rate_limit": 5, "collector_rate_burst": 5, "collector_proxy_hops": 1}
    flooder = {"X-Forwarded-For": "203.0.113.66"}
    neighbour = {"X-Forwarded-For": "198.51.100.7"}
    async with collector(broker, clock=lambda: 100.0, **limits) as client:  # one instant

        async def send(headers: dict[str, str], customer: str) -> tuple[str, int]:
            status, _, _ = await post(client, [ev("page_view", customer, 0)], headers=headers)
            return customer, status

        requests = [send(flooder, "flood") for _ in range(60)]
        requests[10:10] = [send(neighbour, "neighbour") for _ in range(5)]
        results = await asyncio.gather(*requests)
    flood = [status for who, status in results if who == "flood"]
    assert sorted(flood) == [202] * 5 + [429] * 55, "the burst, then 429 in the same instant"
    assert [status for who, status in results if who == "neighbour"] == [202] * 5
    assert [e["customer_id"] for e in broker.events()].count("neighbour") == 5
