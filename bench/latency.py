"""Produce-to-/metrics latency at a steady rate, and sessions closing on time afterwards.

A worker waits on an empty topic; a generated stream whose event times lie
just ahead is then produced in real time (each message when the wall clock
reaches its timestamp). Every 250 ms the benchmark reads the progress
counters from ``/metrics?name[]=...`` (the worker then builds only those; a
whole scrape, timed for the "/metrics ms" column after the warm-up, is every
20th read, about once in 5 s where Prometheus scrapes once in 15 s, so the
polling takes little of the worker's time or its event loop's): a
message counts as reflected once its partition's progress counters reach
the value the reference logic has after that message (``bench.expect``).
Latency = time the scrape returned - time the message was handed to the
producer, so it includes the producer's linger, the broker, Faust, the
tracker and up to one scrape interval. After the stream ends, the worker
goes idle; the idle rule must then close every session about ``gap`` after
its last event.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.expect import Expectation, expect, internal_errors
from bench.kafka_io import produce_async
from bench.procs import (
    FULL_SCRAPE_EVERY,
    PROGRESS_PATH,
    WORKER,
    BenchError,
    Proc,
    progress_from_metrics,
    wait_for,
)
from bench.throughput import Bench, py_spy
from tracker.kafka.broker import ensure_topics, free_port
from tracker.metrics.samples import parse_exposition, total
from tracker.testing.streams import counter_table, differences
from tracker.testing.traffic import Message

SCRAPE_INTERVAL = 0.25
CATCH_UP_S = 45.0  # after the last send; a worker still behind then has fallen behind the rate
DRY_RUN_START_MS = 1_700_000_000_000
LEAD_S = 3.0  # a live stream starts this long after it is generated (the dry run's time added)
DEBUG_SERIES: Path | None = None


@dataclass
class LatencyResult:
    variant: str
    rate: float  # events/s asked for
    seconds: float  # from the first send to the last
    events: int
    messages: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    scrape_ms_p50: float
    cores: float  # worker CPU while loaded
    close_after_last_s: float | None = None  # last session closed this long after its last event
    gap_s: float = 0.0
    max_out_of_order_s: float = 0.0
    idle_timeout_s: float = 0.0
    correct: bool | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def offered(self) -> float:
        """Events/s the producer actually offered: what the rate in a verdict must be."""
        return self.events / self.seconds if self.seconds > 0 else float("nan")


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(
    bench: Bench,
    name: str,
    make_stream: Callable[[int], list[Message]],
    rate: float,
    settings: dict[str, str],
    *,
    live: bool,
    warmup_s: float = 3.0,
    profile: Path | None = None,
) -> LatencyResult:
    """``make_stream(start_ms)`` gives the messages; their timestamps pace the producer.

    ``live``: event times are the wall clock of sending (needed to see the idle rule close
    sessions on time); otherwise the stream keeps its times in the past and only its
    spacing paces the producer. ``profile``: py-spy the worker while the stream runs.
    """
    group = f"bench-latency-{uuid.uuid4().hex[:8]}"
    topic = f"{group}-events"
    ensure_topics(bench.bootstrap, [(topic, bench.partitions, {})])
    port = free_port()
    env = bench.env(topic, group, port, bench.root / group / "w0", **settings)
    worker = Proc(WORKER, env, port, bench.root / group / "w0.log").start()
    try:
        wait_for(lambda: _ready(worker), 120, "the latency worker to be ready")
        if live:
            # Counters do not depend on where the stream lies in time, only on its shape: the
            # expectation of a dry run holds for the same stream generated a little ahead.
            began = time.perf_counter()
            expectation = expect(make_stream(DRY_RUN_START_MS), env, bench.partitions, final=True)
            # Generating the live stream takes as long again (13 s at 3,600 events/s): a start
            # closer than that left its first seconds overdue, sent in one burst, and the backlog
            # they made was measured as the worker's latency.
            lead_s = LEAD_S + time.perf_counter() - began
            messages = make_stream(int((time.time() + lead_s) * 1000))
            if len(messages) != expectation.total_messages:
                raise BenchError("the live stream differs from its dry run")
            _check_ahead(messages[0], lead_s)
            offset_s = 0.0
        else:
            messages = make_stream(int(time.time() * 1000) - 3_600_000)
            expectation = expect(messages, env, bench.partitions, final=True)
            offset_s = time.time() + 2 - messages[0].timestamp_ms / 1000
        spy = py_spy(worker, profile) if profile is not None else None
        try:
            return _measure(
                bench, name, worker, topic, messages, expectation, rate, env, warmup_s, offset_s
            )
        finally:
            if spy is not None:
                spy.stop()
    finally:
        worker.stop()


def _check_ahead(first: Message, lead_s: float) -> None:
    """A live stream must still lie ahead once generated, or its start is a burst."""
    ahead_s = first.timestamp_ms / 1000 - time.time()
    if ahead_s < 1:
        raise BenchError(
            f"the live stream took longer to generate than the {lead_s:.1f} s lead it was"
            f" given: its first message was due {-ahead_s:.1f} s before sending could begin"
        )


def _ready(worker: Proc) -> bool:
    worker.check()
    return worker.ready_partitions() is not None


# long: one measurement: the producer thread, the scrape loop and the result share the
# send times, per-partition pointers and CPU marks; split, each piece would take them all.
def _measure(
    bench: Bench,
    name: str,
    worker: Proc,
    topic: str,
    messages: list[Message],
    expectation: Expectation,
    rate: float,
    env: dict[str, str],
    warmup_s: float,
    offset_s: float,
) -> LatencyResult:
    sent_at = [0.0] * len(messages)
    errors: list[BaseException] = []

    def record(index: int, at: float) -> None:
        sent_at[index] = at

    def producer() -> None:
        try:
            asyncio.run(
                produce_async(
                    bench.bootstrap,
                    topic,
                    messages,
                    bench.partitions,
                    pace=lambda m: m.timestamp_ms / 1000 + offset_s,
                    on_sent=record,
                )
            )
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=producer, name="bench-producer", daemon=True)
    first_ts = messages[0].timestamp_ms / 1000 + offset_s
    thread.start()
    latencies: list[tuple[float, float]] = []  # (send time, latency s)
    pointers = dict.fromkeys(expectation.partitions, 0)
    scrape_ms: list[float] = []
    reads = 0
    cpu_start = cpu_end = None
    behind = False
    deadline = messages[-1].timestamp_ms / 1000 + offset_s + CATCH_UP_S
    while True:
        worker.check()
        if errors:
            raise BenchError(f"producer failed: {errors[0]!r}")
        whole = reads % FULL_SCRAPE_EVERY == 0
        reads += 1
        began = time.perf_counter()
        status, body = worker.get("/metrics" if whole else PROGRESS_PATH)
        now = time.time()
        if status == 200:
            if whole and cpu_start is not None:  # after the warm-up: not an empty worker's
                scrape_ms.append((time.perf_counter() - began) * 1000)
            progress = progress_from_metrics(body.decode())
            for partition, track in expectation.partitions.items():
                observed = progress.get(partition, 0)
                ptr = pointers[partition]
                while ptr < len(track.progress) and track.progress[ptr] <= observed:
                    index = track.index[ptr]
                    moved = track.progress[ptr] > (track.progress[ptr - 1] if ptr else 0)
                    if moved and sent_at[index]:
                        latencies.append((sent_at[index], now - sent_at[index]))
                    ptr += 1
                pointers[partition] = ptr
            if cpu_start is None and now >= first_ts + warmup_s:
                cpu_start = (now, worker.cpu_seconds())
            if expectation.complete(progress):
                cpu_end = (now, worker.cpu_seconds())
                break
        if now > deadline:
            behind = True
            break
        time.sleep(SCRAPE_INTERVAL)
    thread.join(timeout=60)
    if behind:  # what was never reflected counts with the time it had waited: a lower bound
        done = {
            track.index[i]
            for p, track in expectation.partitions.items()
            for i in range(pointers[p])
        }
        now = time.time()
        latencies += [(at, now - at) for i, at in enumerate(sent_at) if at and i not in done]
        cpu_end = (now, worker.cpu_seconds())
    if DEBUG_SERIES is not None:  # (send time, latency) of every message, for a plot
        DEBUG_SERIES.write_text(
            "".join(f"{at - first_ts:.3f} {lat:.3f}\n" for at, lat in latencies)
        )
    last_sent = max(sent_at)
    steady = [lat for at, lat in latencies if at >= first_ts + warmup_s]
    cores = float("nan")
    if cpu_start is not None and cpu_end is not None and cpu_end[0] > cpu_start[0]:
        cores = (cpu_end[1] - cpu_start[1]) / (cpu_end[0] - cpu_start[0])
    result = LatencyResult(
        name,
        rate,
        last_sent - sent_at[0],
        expectation.total_events,
        expectation.total_messages,
        _percentile(steady, 0.5) * 1000,
        _percentile(steady, 0.99) * 1000,
        max(steady, default=float("nan")) * 1000,
        statistics.median(scrape_ms) if scrape_ms else float("nan"),
        cores,
        gap_s=float(env.get("TRACKER_SESSION_GAP", 1800)),
        max_out_of_order_s=float(env.get("TRACKER_MAX_OUT_OF_ORDER", 10)),
        idle_timeout_s=float(env.get("TRACKER_IDLE_TIMEOUT", 60)),
    )
    result.notes.append(
        f"{len(steady)} of {len(latencies)} messages after a {warmup_s:.0f}s warm-up;"
        f" asked for {rate:,.0f} events/s, offered {result.offered:,.0f}"
    )
    if behind:
        result.notes.append(
            f"fell behind: not caught up {CATCH_UP_S:.0f} s after the last send (messages never"
            " reflected count with their wait so far: p99 and max are lower bounds)"
        )
        return result
    if offset_s:
        _check(worker, expectation.counters, result)
    else:
        _sessions_close(worker, messages, expectation, result)
    return result


def _check(worker: Proc, expected: dict[str, float], result: LatencyResult) -> None:
    status, body = worker.get("/metrics")
    samples = parse_exposition(body.decode())
    problems = internal_errors(samples) + differences(counter_table(samples), expected)
    result.correct = status == 200 and not problems
    if problems:
        result.notes.append("MISMATCH: " + "; ".join(problems[:5]))


def _sessions_close(
    worker: Proc, messages: list[Message], expectation: Expectation, result: LatencyResult
) -> None:
    """Wait for the idle rule to close every session; then every counter must match."""
    closed = sum(  # the family itself: tracker_sessions_closed_by_lcp_total shares the prefix
        v
        for k, v in expectation.final_counters.items()
        if k.partition("{")[0] == "tracker_sessions_closed_total"
    )
    last_event_s = max(m.timestamp_ms for m in messages) / 1000
    limit = result.gap_s + result.max_out_of_order_s + result.idle_timeout_s + 60

    def all_closed() -> bool:
        worker.check()
        status, body = worker.get("/metrics")
        if status != 200:
            return False
        return total(parse_exposition(body.decode()), "tracker_sessions_closed_total") >= closed

    try:
        wait_for(all_closed, limit, "every session to close", step=0.25)
    except BenchError:  # say what was left: the counters that differ, and what was open
        status, body = worker.get("/metrics")
        samples = parse_exposition(body.decode()) if status == 200 else []
        problems = differences(counter_table(samples), expectation.final_counters)
        active = total(samples, "tracker_sessions_active")
        raise BenchError(
            f"sessions still open after {limit:.0f}s: {active:g} active; " + "; ".join(problems[:8])
        ) from None
    result.close_after_last_s = time.time() - last_event_s
    _check(worker, expectation.final_counters, result)
