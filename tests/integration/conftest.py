"""Fixtures that start real components: the embedded broker and tracker workers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tracker.kafka.broker import BrokerHandle, free_port, start_embedded
from tracker.metrics.samples import Sample, parse_exposition
from tracker.testing.processes import terminate

PSEUDONYM_KEY = "integration-test-pseudonym-key-0001"
EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "examples"
if not EXAMPLES.exists():
    EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class WorkerProcess:
    env: dict[str, str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, ready_timeout: float = 90) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tracker", "worker"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self.ready, ready_timeout, f"worker on port {self.port} to be ready")
        return self

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, b""

    def ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"worker exited with {self.process.returncode}: {self.tail()}")
        return self.get("/readyz")[0] == 200

    def samples(self) -> list[Sample]:
        status, body = self.get("/metrics")
        assert status == 200, f"/metrics answered {status}"
        return parse_exposition(body.decode())

    def stop(self) -> None:
        terminate(self.process)
        self.process = None

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Deployment:
    """One isolated tracker installation (own topic, group, data dir) on a broker."""

    broker: BrokerHandle
    root: Path
    env: dict[str, str] = field(default_factory=dict)
    workers: list[WorkerProcess] = field(default_factory=list)

    def worker(self, **overrides: str) -> WorkerProcess:
        port = free_port()
        index = len(self.workers)
        env = {**self.env, "TRACKER_WEB_PORT": str(port), **overrides}
        env["TRACKER_DATA_DIR"] = str(self.root / f"worker-{index}")
        proc = WorkerProcess(env, port, self.root / f"worker-{index}.log")
        self.workers.append(proc)
        return proc

    def tracker(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tracker", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )

    def stop(self) -> None:
        for proc in self.workers:
            proc.stop()


@pytest.fixture(scope="session")
def embedded_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerHandle]:
    handle = start_embedded(tmp_path_factory.mktemp("tansu"))
    yield handle
    handle.stop()


def make_deployment(broker: BrokerHandle, root: Path, **settings: str) -> Deployment:
    name = f"t{uuid.uuid4().hex[:10]}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("TRACKER_")}
    env.update(
        {
            "TRACKER_BROKER": broker.url,
            "TRACKER_TOPIC": f"{name}-events",
            "TRACKER_WORKER_ID": f"{name}-worker",
            "TRACKER_PSEUDONYM_KEY": PSEUDONYM_KEY,
            "TRACKER_PARTITIONS": "4",
            "TRACKER_FLUSH_INTERVAL": "0.5",
            "TRACKER_DATA_DIR": str(root / "cli"),
            "PYTHONUNBUFFERED": "1",
            **settings,
        }
    )
    return Deployment(broker, root, env)


@pytest.fixture
def deployment_factory(
    embedded_broker: BrokerHandle, tmp_path: Path
) -> Iterator[Callable[..., Deployment]]:
    made: list[Deployment] = []

    def factory(**settings: str) -> Deployment:
        deployment = make_deployment(embedded_broker, tmp_path / f"d{len(made)}", **settings)
        made.append(deployment)
        return deployment

    yield factory
    for deployment in made:
        deployment.stop()


def owned_partitions(worker: WorkerProcess) -> set[str]:
    """Input partitions a worker exports counters for (only its active ones)."""
    return {
        dict(labels)["partition"]
        for name, labels, _ in worker.samples()
        if name == "tracker_events_total" and "partition" in dict(labels)
    }


def settled(workers: list[WorkerProcess], partitions: int) -> bool:
    """Every partition exported by exactly one worker: the group has finished rebalancing."""
    seen: list[str] = []
    for worker in workers:
        if not worker.ready():
            return False
        seen.extend(owned_partitions(worker))
    return sorted(seen) == sorted(str(p) for p in range(partitions))
