"""Tracker installations that tests and benchmarks start for real: worker processes on a broker.

A ``Deployment`` is one isolated installation (its own topic, consumer group
and data directories) on a running broker; its workers are ``python -m
tracker worker`` processes whose ``/metrics`` the callers read.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tracker.kafka.broker import BrokerHandle, free_port
from tracker.metrics.samples import Sample, parse_exposition
from tracker.testing.processes import terminate

# Test and benchmark installations only: production keys come from the operator.
PSEUDONYM_KEY = "integration-test-pseudonym-key-0001"


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
    # subprocess.PIPE: a stdin held open and never written, as a terminal's would be
    stdin: int | None = None

    def spawn(self) -> WorkerProcess:
        """Start the worker process without waiting for it to become ready."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tracker", "worker"],
                env=self.env,
                stdin=self.stdin,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def start(self, ready_timeout: float = 90) -> WorkerProcess:
        self.spawn()
        wait_until(self.ready, ready_timeout, f"worker on port {self.port} to be ready")
        return self

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return int(r.status), bytes(r.read())
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
        self._forget()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        self._forget()

    def _forget(self) -> None:
        if self.process is not None and self.process.stdin is not None:
            self.process.stdin.close()
        self.process = None

    def crashes(self) -> list[str]:
        """The log's lines for agents or services that crashed (Faust: ``Crashed reason=``)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [line for line in text.splitlines() if "Crashed reason=" in line]

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


def make_deployment(broker: BrokerHandle, root: Path, **settings: str) -> Deployment:
    """A fresh installation on ``broker``; ``settings`` are TRACKER_* variables to set.

    The caller's own TRACKER_* variables are left out, so a developer's shell cannot
    change what a test or benchmark runs.
    """
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
