"""Running ``tracker collector`` as a real process, talking to it, reading what it wrote."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from tracker.kafka.broker import free_port
from tracker.metrics.samples import Sample, parse_exposition, total
from tracker.testing.deployment import wait_until
from tracker.testing.processes import terminate

BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


@dataclass
class CollectorProcess:
    env: dict[str, str]
    log_path: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_timeout: float = 60, **settings: str) -> CollectorProcess:
        self.port = self.port or free_port()
        env = {**self.env, "TRACKER_COLLECTOR_PORT": str(self.port), **settings}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tracker", "collector"],
            env=env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_until(self.ready, ready_timeout, f"collector on port {self.port} to be ready")
        return self

    def ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"collector exited with {self.process.returncode}: {self.tail()}")
        return self.get("/readyz")[0] == 200

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, b""

    def post(
        self, events: list[dict[str, Any]], user_agent: str = BROWSER_UA
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        request = urllib.request.Request(
            self.url + "/v1/events",
            data=orjson.dumps(events),
            headers={"Content-Type": "text/plain", "User-Agent": user_agent},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, orjson.loads(response.read()), dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, orjson.loads(exc.read()), dict(exc.headers)

    def samples(self) -> list[Sample]:
        status, body = self.get("/metrics")
        assert status == 200, f"collector /metrics answered {status}"
        return parse_exposition(body.decode())

    def metric(self, name: str, **labels: str) -> float:
        return total(self.samples(), name, **labels)

    def stop(self) -> None:
        terminate(self.process)
        self.process = None

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def web_event(event_type: str, customer: str, **fields: Any) -> dict[str, Any]:
    """An event as the browser snippet would send it, happening now."""
    stamp = now_iso()
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "customer_id": customer,
        "occurred_at": stamp,
        "sent_at": stamp,
        "channel": "web",
        "touchpoint": "home",
        "consent": {"analytics": True, "marketing": False},
    }
    if event_type == "interaction":
        event["action"] = "add_to_cart"
    if event_type == "order":
        event.update(order_id=f"o-{uuid.uuid4().hex[:8]}", revenue="19.90", currency="EUR")
    event.update(fields)
    return event


def read_topic(bootstrap: str, topic: str, timeout: float = 20) -> list[Any]:
    """Every record of the topic, from the beginning to its current end."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()
