"""``tracker demo`` as a child process: for the browser tests and the README pictures.

Its own data directory and free ports, so it runs beside a developer's demo; waits
until the overview page has something to show, and stops broker, worker, collector
and traffic with SIGTERM, as Ctrl-C would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.kafka.broker import free_port
from tracker.testing.deployment import wait_until
from tracker.testing.processes import terminate


@dataclass(frozen=True)
class Demo:
    process: subprocess.Popen[bytes]
    web_port: int
    collector_port: int
    log: Path

    @property
    def overview_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}/"

    @property
    def shop_url(self) -> str:
        return f"http://127.0.0.1:{self.collector_port}/demo/"

    def get(self, path: str) -> Any:
        """The worker's JSON answer at ``path``, or None while it cannot answer."""
        try:
            with urllib.request.urlopen(self.overview_url + path.lstrip("/"), timeout=5) as r:
                return json.loads(r.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            return None

    def overview(self) -> dict[str, Any] | None:
        answer = self.get("api/overview")
        return None if answer is None else dict(answer["overview"])

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"the demo exited: {self.log.read_text()[-2000:]}")
            page = self.overview()
            return page is not None and predicate(page)

        wait_until(ready, timeout, "the demo's overview page")


@contextmanager
def running_demo(data_dir: Path, rate: float = 40, **settings: str) -> Iterator[Demo]:
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    web, collector = free_port(), free_port()
    env.update(
        {
            "TRACKER_DATA_DIR": str(data_dir),
            "TRACKER_WEB_PORT": str(web),
            "TRACKER_COLLECTOR_PORT": str(collector),
            "PYTHONUNBUFFERED": "1",
            **settings,
        }
    )
    log = data_dir / "demo.out"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tracker", "demo", "--rate", str(rate)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Demo(process, web, collector, log)
    finally:
        terminate(process, timeout=60)
