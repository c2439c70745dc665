"""A real Alertmanager (Debian's prometheus-alertmanager) and a webhook receiver for tests.

The Alertmanager runs the shipped deploy/alertmanager/alertmanager.yml with its
routes, receivers' names and inhibit rules as they are; only where receivers
deliver (every one to the test's webhook, one path per receiver) and the waits
(seconds instead of minutes) change.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from aiohttp import web

from tests.support import daemon
from tests.support.prometheus import binary
from tracker.kafka.broker import free_port

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "alertmanager" / "alertmanager.yml"


class WebhookReceiver:
    """An aiohttp server in a thread: records every POSTed notification with its path.

    It also answers ``/metrics`` (empty), so it can stand in as a scrape target.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="webhook", daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            self.received.append((request.path, body))
        return web.Response(text="ok")

    async def _metrics(self, _: web.Request) -> web.Response:
        return web.Response(text="", content_type="text/plain")

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_post("/{receiver}", self._hook)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self._ready.set()
        self._loop.run_forever()

    def notifications(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return list(self.received)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        if not self._ready.wait(10):
            raise AssertionError("webhook receiver did not start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def config_for_tests(webhook: str) -> dict[str, Any]:
    """The shipped config, every receiver delivering to ``webhook``/<receiver name>."""
    config: dict[str, Any] = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    config["global"] = {"resolve_timeout": "1m"}
    config["receivers"] = [
        {
            "name": receiver["name"],
            "webhook_configs": [{"url": f"{webhook}/{receiver['name']}", "send_resolved": True}],
        }
        for receiver in config["receivers"]
    ]
    config["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    return config


class Alertmanager:
    def __init__(self, workdir: Path, webhook: str) -> None:
        self.workdir = workdir
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "alertmanager.yml"
        self.config.write_text(yaml.safe_dump(config_for_tests(webhook)))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Alertmanager:
        self.process = daemon.spawn_ready(
            "alertmanager",
            [
                binary("prometheus-alertmanager"),
                f"--config.file={self.config}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address={self.address}",
                "--cluster.listen-address=",  # no gossip port: one instance
            ],
            self.workdir / "alertmanager.log",
            f"http://{self.address}",
            timeout=30,
        )
        return self

    def alerts(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"http://{self.address}/api/v2/alerts", timeout=5) as r:
            data: list[dict[str, Any]] = json.loads(r.read())
        return data

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        daemon.stop(self.process)
