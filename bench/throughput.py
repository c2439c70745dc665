"""Draining a pre-filled topic: the raw consumer, the no-op Faust agent and the tracker."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.expect import Expectation, internal_errors
from bench.kafka_io import read_all
from bench.procs import (
    FEW_READINGS,
    NOOP_WORKER,
    STEADY_FROM,
    WORKER,
    BenchError,
    Drain,
    Proc,
    Reader,
    drain,
    noop_reader,
    tracker_reader,
    wait_for,
    worker_env,
)
from bench.streams import Variant
from tracker.kafka.broker import free_port
from tracker.metrics.samples import parse_exposition
from tracker.testing.streams import counter_table, differences

# The experiment rows: Faust's own consumer fetches (1.5 s, 1 byte) instead of the
# tracker's defaults (0.1 s, 64 KiB): what those buy in latency and what they cost in CPU.
FAUST_FETCH_WAIT = {"TRACKER_FETCH_MAX_WAIT": "1.5", "TRACKER_FETCH_MIN_BYTES": "1"}
FAUST_FETCH_WAIT_LABEL = "Faust's fetch (1.5 s, 1 byte)"

PSEUDONYM_KEY = "bench-pseudonym-key-0123456789abcdef"
NOOP_EXTRA_ENV: dict[str, str] = {}  # experiments, e.g. BENCH_FAUST_OPTIONS


@dataclass
class Result:
    """One measured configuration: a row of the table."""

    name: str
    variant: str
    workers: int
    events: int
    messages: int
    events_per_s: float
    messages_per_s: float
    cpu_s_per_million: float | None = None
    cores: float | None = None  # CPU cores the measured processes kept busy
    others_cores: float | None = None  # broker + benchmark process, same window
    rss_mib: float | None = None
    peak_rss_mib: float | None = None
    scrape_ms_p50: float | None = None
    correct: bool | None = None
    notes: list[str] = field(default_factory=list)
    spread: tuple[float, float] | None = None  # lowest and highest events/s of repeated runs

    @property
    def per_core(self) -> float | None:
        if self.cores is None or not self.cores:
            return None
        return self.events_per_s / self.cores


@dataclass
class Bench:
    """What every run shares: broker, partitions, a scratch directory, processes to watch."""

    bootstrap: str
    partitions: int
    root: Path
    watch: list[psutil.Process]

    def env(self, topic: str, group: str, port: int, data: Path, **extra: str) -> dict[str, str]:
        return worker_env(
            {
                "TRACKER_BROKER": f"kafka://{self.bootstrap}",
                "TRACKER_TOPIC": topic,
                "TRACKER_WORKER_ID": group,
                "TRACKER_PSEUDONYM_KEY": PSEUDONYM_KEY,
                "TRACKER_WEB_PORT": str(port),
                "TRACKER_DATA_DIR": str(data),
                "TRACKER_PARTITIONS": str(self.partitions),
            },
            **extra,
        )


def raw_read(bench: Bench, variant: Variant, topic: str) -> Result:
    read = read_all(bench.bootstrap, topic, bench.partitions, len(variant.messages))
    rate = read.messages / read.seconds
    return Result(
        "raw aiokafka getmany",
        variant.name,
        1,
        variant.events,
        read.messages,
        rate * variant.mean_batch,
        rate,
        cpu_s_per_million=read.cpu_seconds / variant.events * 1e6,
        cores=read.cpu_seconds / read.seconds,
        notes=[f"{read.bytes / read.seconds / 1e6:.0f} MB/s"],
    )


def _start(
    bench: Bench, command: list[str], topic: str, group: str, count: int, **extra: str
) -> list[Proc]:
    procs = []
    for index in range(count):
        port = free_port()
        data = bench.root / group / f"w{index}"
        env = bench.env(topic, group, port, data, **extra)
        procs.append(Proc(command, env, port, bench.root / group / f"w{index}.log").start())
    return procs


def _settled(procs: Sequence[Proc], partitions: int) -> bool:
    owned: list[int] = []
    for proc in procs:
        proc.check()
        mine = proc.ready_partitions()
        if mine is None:
            return False
        owned.extend(mine)
    return sorted(owned) == list(range(partitions))


def noop(
    bench: Bench,
    variant: Variant,
    topic: str,
    *,
    changelog: str = "",
    faust_fetch: bool = False,
    eager: bool = False,
    timeout: float = 600,
) -> Result:
    """The no-op agent; ``changelog`` (table/direct/appended): it also writes one row per
    message;
    ``faust_fetch``: with Faust's own fetches, as the tracker's experiment rows; ``eager``:
    with the tracker's hand-over of fetched records (``faust_patches.hand_over_eagerly``)."""
    group = f"bench-noop-{uuid.uuid4().hex[:8]}"
    extra = {"BENCH_NOOP_CHANGELOG": changelog, "BENCH_NOOP_EAGER": "1" if eager else ""}
    if faust_fetch:
        extra.update(FAUST_FETCH_WAIT)
    extra.update(NOOP_EXTRA_ENV)
    procs = _start(bench, NOOP_WORKER, topic, group, 1, **extra)
    try:
        reader = noop_reader(len(variant.messages), variant.mean_batch)
        run = drain(procs, reader, bench.watch, timeout, interval=0.1)  # as the tracker's
    finally:
        for proc in procs:
            proc.stop()
    name = "no-op Faust agent"
    if changelog == "table":
        name += " + Table.send_changelog per message"
    elif changelog == "direct":
        name += " + producer.send per message"
    elif changelog == "appended":
        name += " + record appended to the producer's batch per message"
    if faust_fetch:
        name += f", {FAUST_FETCH_WAIT_LABEL}"
    if eager:
        name += ", the tracker's eager hand-over"
    return _result(name, variant, run, 1)


def tracker(
    bench: Bench,
    variant: Variant,
    topic: str,
    expectation: Expectation,
    workers: int = 1,
    timeout: float = 900,
    profile: Path | None = None,
    settings: dict[str, str] | None = None,
    name: str = "tracker worker",
    reader: Reader | None = None,
    since: float = STEADY_FROM,
) -> Result:
    """Workers (one consumer group) draining the topic; checks every counter at the end.

    ``settings``: ``TRACKER_*`` variables for an experiment (e.g. another fetch wait).
    ``reader``: how progress is read (default: per partition, ``tracker_reader``).
    ``since``: the share of the events after which the rate is measured (to 95%).
    """
    group = f"bench-tracker-{uuid.uuid4().hex[:8]}"
    procs = _start(bench, WORKER, topic, group, workers, **(settings or {}))
    spy = None
    try:
        if profile is not None:
            spy = py_spy(procs[0], profile)
        settled = None
        if workers > 1:
            state = {"settled": False}

            def settled() -> bool:  # once settled, stays so for the rest of the run
                state["settled"] = state["settled"] or _settled(procs, bench.partitions)
                return state["settled"]

        read = reader or tracker_reader(expectation)
        # Every 0.1 s: a quick run's 100-event stream drains in about two seconds here, and
        # at 0.5 s its window could span one poll of a few hundred events, whose rate and
        # CPU per event then said nothing (2026-12-07, night, in BENCHMARKS.md).
        run = drain(procs, read, bench.watch, timeout, 0.1, settled=settled)
        run.since = since
        result = _result(name, variant, run, workers)
        result.correct, problems = _check(procs, expectation)
        if not result.correct:
            result.notes.append("MISMATCH: " + "; ".join(problems[:5]))
        if workers > 1:
            steady = [o for o in run.observations if o.settled and o.events > 0]
            share = (steady[-1].events - steady[0].events) / variant.events
            result.notes.append(f"rate over the {share:.0%} of events after both workers settled")
    finally:
        for proc in procs:
            proc.stop()
        if spy is not None:
            spy.stop()
    return result


def _check(procs: Sequence[Proc], expectation: Expectation) -> tuple[bool, list[str]]:
    """Every counter, summed over the workers, equals the reference's."""
    samples = []
    for proc in procs:
        status, body = proc.get("/metrics")
        if status != 200:
            return False, [f"/metrics answered {status}"]
        samples.extend(parse_exposition(body.decode()))
    problems = internal_errors(samples) + differences(counter_table(samples), expectation.counters)
    return not problems, problems


def _result(name: str, variant: Variant, run: Drain, workers: int) -> Result:
    total = variant.events
    rate = run.rate(total)
    return Result(
        name,
        variant.name,
        workers,
        total,
        len(variant.messages),
        rate,
        rate / variant.mean_batch,
        cpu_s_per_million=run.cpu_per_million(total),
        cores=run.cores_busy(total),
        others_cores=run.others_cores(total),
        rss_mib=sum(run.rss) / 2**20,
        peak_rss_mib=sum(run.peak_rss) / 2**20,
        scrape_ms_p50=sorted(run.scrape_ms)[len(run.scrape_ms) // 2] if run.scrape_ms else None,
        notes=coarse_note(f"{name}, {variant.name}", run.readings(total)),
    )


def coarse_note(row: str, readings: int) -> list[str]:
    if readings >= FEW_READINGS:
        return []
    return [f"{row}: coarse, only {readings} progress readings in the measured window"]


class Spy:
    def __init__(self, proc: Proc, out: Path) -> None:
        import subprocess
        import sys
        from pathlib import Path as _Path

        assert proc.process is not None
        spy = _Path(sys.executable).parent / "py-spy"
        out.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                str(spy),
                "record",
                "--pid",
                str(proc.process.pid),
                "--rate",
                "100",
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=30)


def py_spy(proc: Proc, out: Path) -> Spy:
    return Spy(proc, out)


__all__ = ["Bench", "BenchError", "Result", "noop", "py_spy", "raw_read", "tracker", "wait_for"]
