"""Reading a request body: wire size, gzip, decompressed size and time, all bounded.

aiohttp's own decompression is switched off (``server_options``): it would inflate a
body before any handler sees it, and keep inflating whatever a client streams while
the connection lingers after an error. Here the body is inflated chunk by chunk and
the decompressor is never asked for more than the limit allows, so a kilobyte that
inflates to gigabytes costs ``limit`` bytes of memory and work, then a 413.
"""

from __future__ import annotations

import asyncio
import zlib

from aiohttp import web

from tracker.collector.errors import BadBatchError

GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around a deflate stream
GZIP = frozenset({"gzip", "x-gzip"})
PLAIN = frozenset({"", "identity"})


class BodyDecoder:
    """Collects a body's chunks; raises BadBatchError as soon as a limit is crossed."""

    def __init__(self, limit: int, gzipped: bool) -> None:
        self.limit = limit
        self.wire = 0
        self._body = bytearray()
        self._inflater = zlib.decompressobj(GZIP_WBITS) if gzipped else None

    def feed(self, chunk: bytes) -> None:
        self.wire += len(chunk)
        if self.wire > self.limit:
            raise BadBatchError(413, "too_large", f"body over {self.limit} bytes")
        if self._inflater is None:
            self._body += chunk
        else:
            self._inflate(self._inflater, chunk)

    def finish(self) -> bytes:
        if self._inflater is not None and not self._inflater.eof:
            raise BadBatchError(400, "invalid_gzip", "the gzip stream ends early")
        return bytes(self._body)

    def _inflate(self, inflater: zlib._Decompress, data: bytes) -> None:
        while True:
            room = self.limit + 1 - len(self._body)  # one byte over the limit is enough to know
            try:
                self._body += inflater.decompress(data, room)
            except zlib.error as exc:
                raise BadBatchError(400, "invalid_gzip", f"not a gzip stream: {exc}") from None
            if len(self._body) > self.limit:
                raise BadBatchError(
                    413, "too_large", f"body over {self.limit} bytes once decompressed"
                )
            if not inflater.eof:
                return  # less output than room: every input byte was consumed
            # RFC 1952 allows several members one after the other; gzip.decompress too.
            data = inflater.unused_data
            if not data:
                return
            inflater = self._inflater = zlib.decompressobj(GZIP_WBITS)


def content_encoding(value: str | None) -> bool:
    """True for a gzip body, False for a plain one; any other coding is a 415."""
    coding = (value or "").strip().lower()
    if coding in GZIP:
        return True
    if coding in PLAIN:
        return False
    raise BadBatchError(415, "unsupported_encoding", "send the body plain or as gzip")


async def hang_up(request: web.Request, response: web.Response) -> None:
    """Answer, then close: aiohttp would otherwise wait, lingering, for the rest of a
    body a stalled client is not sending."""
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    if request.transport is not None:
        request.transport.close()


async def read_body(request: web.Request, limit: int, timeout: float) -> bytes:
    """The decoded body, at most ``limit`` bytes on the wire and once decompressed."""
    decoder = BodyDecoder(limit, content_encoding(request.headers.get("Content-Encoding")))
    if request.content_length is not None and request.content_length > limit:
        raise BadBatchError(413, "too_large", f"body of {request.content_length} bytes > {limit}")
    try:
        # One deadline for the whole body: a client dripping a byte a second is as
        # stalled as one that sends nothing.
        async with asyncio.timeout(timeout):
            while chunk := await request.content.readany():
                decoder.feed(chunk)
    except TimeoutError:
        raise BadBatchError(
            408, "timeout", f"the body did not arrive within {timeout:g} s"
        ) from None
    return decoder.finish()
