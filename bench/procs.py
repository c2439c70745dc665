"""Worker processes under measurement: start, poll, read /metrics, account their CPU and memory."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import psutil

from bench.expect import PROGRESS_COUNTERS, Expectation
from bench.memory_kinds import resident_by_kind
from tracker.testing.processes import terminate

WORKER = [sys.executable, "-m", "tracker", "worker"]
STALL_S = 60.0  # a run without progress for this long has stalled
# Polls: a whole /metrics every 50th (every 5 s at the tracker drains' 0.1 s, where
# Prometheus scrapes every 15 s), the progress counters alone in between (the worker then
# builds only those), so reading progress takes little of the measured worker's time.
FULL_SCRAPE_EVERY = 50
# A drain's rate from fewer readings than this is coarse: its window may span one poll.
FEW_READINGS = 8
STEADY_FROM = 0.05  # a drain's rate is read from this share of its events to 95%
PROGRESS_PATH = "/metrics?" + urlencode([("name[]", name) for name in PROGRESS_COUNTERS])
NOOP_WORKER = [sys.executable, "-m", "bench.noop_worker"]


class BenchError(Exception):
    """A benchmark step could not run (a worker died, a wait timed out)."""


@dataclass
class Proc:
    """One worker process (the tracker's or the no-op one) on a local HTTP port."""

    command: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    ps: psutil.Process | None = None
    _conn: http.client.HTTPConnection | None = None

    def start(self) -> Proc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.ps = psutil.Process(self.process.pid)
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check(self) -> None:
        if not self.alive():
            code = self.process.returncode if self.process else None
            raise BenchError(f"{self.command[-1]} exited ({code}):\n{self.tail()}")

    def get(self, path: str, timeout: float = 10, retry: bool = True) -> tuple[int, bytes]:
        """One GET on the kept connection, tried again once on a new one (``retry``)."""
        for attempt in (0, 1) if retry else (1,):
            try:
                if self._conn is None:
                    self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
                self._conn.timeout = timeout  # the next connect's, and this call's below
                if self._conn.sock is not None:
                    self._conn.sock.settimeout(timeout)
                self._conn.request("GET", path)
                response = self._conn.getresponse()
                return response.status, response.read()
            except (OSError, http.client.HTTPException):
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                if attempt:
                    return 0, b""
        return 0, b""

    def ready_partitions(self) -> list[int] | None:
        status, body = self.get("/readyz")
        if status != 200:
            return None
        partitions: list[int] = json.loads(body).get("partitions", [])
        return partitions

    def cpu_seconds(self) -> float:
        assert self.ps is not None
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    def rss(self) -> int:
        assert self.ps is not None
        return int(self.ps.memory_info().rss)

    def rss_by_kind(self) -> dict[str, int]:
        """Resident bytes by what holds them (``bench.memory_kinds``), read from smaps."""
        assert self.ps is not None
        return resident_by_kind(self.ps.memory_maps(grouped=False))

    def peak_rss(self) -> int:
        assert self.ps is not None
        for line in Path(f"/proc/{self.ps.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return self.rss()

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        terminate(self.process)

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.2) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(step)
    raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")


def progress_from_metrics(text: str) -> dict[int, int]:
    """Per partition: the sum of the progress counters (see ``bench.expect``)."""
    out: dict[int, int] = {}
    for line in text.splitlines():
        brace = line.find("{")
        if brace <= 0 or line[:brace] not in PROGRESS_COUNTERS:
            continue
        at = line.find('partition="', brace)
        if at < 0:
            continue
        start = at + len('partition="')
        partition = int(line[start : line.index('"', start)])
        value = float(line.rsplit(" ", 1)[1])
        out[partition] = out.get(partition, 0) + int(value)
    return out


@dataclass
class Observation:
    at: float  # time.monotonic()
    events: int  # events applied so far
    cpu: float  # CPU seconds of the measured processes together
    others_cpu: float  # CPU seconds of the other processes watched (broker, this one)
    settled: bool = True  # every worker of the group owns its share of the partitions


@dataclass
class Drain:
    """A measured run through a backlog: from the first progress to the last message."""

    observations: list[Observation] = field(default_factory=list)
    scrape_ms: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    peak_rss: list[int] = field(default_factory=list)
    progress: dict[int, int] = field(default_factory=dict)
    reads: int = 0  # /metrics polls so far
    since: float = STEADY_FROM  # the measured window's start, as a share of the events

    def window(self, total: int) -> tuple[Observation, Observation]:
        """Steady part: from ``since`` to 95% of the events when there are enough points."""
        obs = [o for o in self.observations if o.events > 0 and o.settled]
        if len(obs) < 2:
            raise BenchError("no steady progress observed")
        inner = [o for o in obs if self.since * total <= o.events <= 0.95 * total]
        if len(inner) >= FEW_READINGS:
            return inner[0], inner[-1]
        return obs[0], obs[-1]

    def readings(self, total: int) -> int:
        """Progress readings inside the window the rate is measured over."""
        a, b = self.window(total)
        return sum(
            1 for o in self.observations if o.events > 0 and o.settled and a.at <= o.at <= b.at
        )

    def rate(self, total: int) -> float:
        a, b = self.window(total)
        return (b.events - a.events) / (b.at - a.at) if b.at > a.at else float("nan")

    def cpu_per_million(self, total: int) -> float:
        a, b = self.window(total)
        return (b.cpu - a.cpu) / (b.events - a.events) * 1e6 if b.events > a.events else 0.0

    def cores_busy(self, total: int) -> float:
        a, b = self.window(total)
        return (b.cpu - a.cpu) / (b.at - a.at) if b.at > a.at else float("nan")

    def others_cores(self, total: int) -> float:
        a, b = self.window(total)
        return (b.others_cpu - a.others_cpu) / (b.at - a.at) if b.at > a.at else float("nan")

    def seconds(self) -> float:
        obs = [o for o in self.observations if o.events > 0]
        return obs[-1].at - obs[0].at if len(obs) > 1 else 0.0


def drain(
    procs: Sequence[Proc],
    read: Reader,
    others: Sequence[psutil.Process],
    timeout: float,
    interval: float = 0.25,
    settled: Callable[[], bool] | None = None,
) -> Drain:
    """Poll until ``read`` says done; ``read`` returns (events applied, complete)."""
    result = Drain()
    started = time.monotonic()
    moved_at, last_events = started, -1
    while True:
        for proc in procs:
            proc.check()
        events, done = read(procs, result)
        now = time.monotonic()
        cpu = sum(p.cpu_seconds() for p in procs)
        others_cpu = 0.0
        for other in others:
            try:
                times = other.cpu_times()
                others_cpu += times.user + times.system
            except psutil.Error:
                pass
        steady = settled() if settled is not None else True
        result.observations.append(Observation(now, events, cpu, others_cpu, steady))
        if done:
            result.rss = [p.rss() for p in procs]
            result.peak_rss = [p.peak_rss() for p in procs]
            return result
        if events != last_events:
            moved_at, last_events = now, events
        if now - moved_at > STALL_S and events > 0:
            raise BenchError(f"no progress for {STALL_S:.0f}s at {events:,} events applied")
        if now - started > timeout:
            raise BenchError(f"timed out after {timeout:.0f}s with {events:,} events applied")
        time.sleep(interval)


Reader = Callable[[Sequence[Proc], Drain], tuple[int, bool]]


def _scrape(procs: Sequence[Proc], result: Drain, path: str = PROGRESS_PATH) -> list[str]:
    """Every worker's ``path`` (every ``FULL_SCRAPE_EVERY``-th poll its whole ``/metrics``,
    timed); progress sums by partition into ``result``."""
    whole = result.reads % FULL_SCRAPE_EVERY == 0
    result.reads += 1
    bodies = []
    merged: dict[int, int] = {}
    for proc in procs:
        began = time.perf_counter()
        status, body = proc.get("/metrics" if whole else path)
        if status != 200:
            continue
        if whole:
            result.scrape_ms.append((time.perf_counter() - began) * 1000)
        bodies.append(body.decode())
        for partition, value in progress_from_metrics(bodies[-1]).items():
            merged[partition] = max(merged.get(partition, 0), value)
    result.progress = merged
    return bodies


def caught_up(bodies: Sequence[str], partitions: int) -> bool:
    """Every partition reports a consumer lag of zero (``tracker_consumer_lag``)."""
    lags: dict[str, float] = {}
    for body in bodies:
        for line in body.splitlines():
            if line.startswith("tracker_consumer_lag{"):
                labels, value = line.rsplit(" ", 1)
                lags[labels] = float(value)
    return len(lags) >= partitions and not any(lags.values())


def tracker_reader(expectation: Expectation) -> Reader:
    def read(procs: Sequence[Proc], result: Drain) -> tuple[int, bool]:
        _scrape(procs, result)
        merged = result.progress
        return expectation.events_applied(merged), expectation.complete(merged)

    return read


def whole_stream_reader(expectation: Expectation) -> Reader:
    """Progress summed over partitions, events in proportion to it; done when the sum is
    reached or every partition has been read to its end.

    For streams in which devices log in and their events are forwarded across partitions
    (the soak's): which partition counts a forwarded event, and whether it arrives in time,
    depends on how the partitions' drains interleave, so per-partition progress may never
    match the reference's, and the sum may fall a few short (``_check`` then reports the
    difference instead of the drain stalling).
    """
    final = sum(expectation.final_progress().values())
    partitions = len(expectation.partitions)

    def read(procs: Sequence[Proc], result: Drain) -> tuple[int, bool]:
        bodies = _scrape(procs, result)  # the lag only in whole scrapes: the gauges cost
        done = sum(result.progress.values())
        complete = done >= final or (done > 0 and caught_up(bodies, partitions))
        return expectation.total_events * min(done, final) // max(final, 1), complete

    return read


def noop_reader(
    total_messages: int, events_per_message: float
) -> Callable[[Sequence[Proc], Drain], tuple[int, bool]]:
    def read(procs: Sequence[Proc], result: Drain) -> tuple[int, bool]:
        seen = 0
        for proc in procs:
            status, body = proc.get("/bench/count")
            if status == 200:
                seen += int(json.loads(body)["messages"])
        return round(seen * events_per_message), seen >= total_messages

    return read


def worker_env(base: Mapping[str, str], **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env.update(base)
    env.update(overrides)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
