"""``make bench``: the tracker beside the limits of its stack, in one run on one broker.

    python -m bench.run              # full run (~20-27 min here), updates BENCHMARKS.md
    python -m bench.run --quick      # smaller streams, a few minutes
    python -m bench.run --soak 10    # also 10 minutes of steady load for flat memory
    python -m bench.run --profile    # also py-spy profiles of the worker runs

Steps: (a) limits: raw aiokafka ``getmany`` and a no-op Faust agent on the
same messages; (b) the tracker worker on 1-event messages and on 10- and
100-event batches, every counter checked against the pure reference logic;
(c) produce-to-/metrics latency at half the measured maximum rate, and the
idle rule closing sessions on time; (d) state bytes per open session and per
customer, and /metrics scrape time, at 100k and 1M customers; (e) one vs two
workers. See BENCHMARKS.md for the method and the findings.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench import latency, machine, report, soak, throughput
from bench.brokers import running
from bench.expect import expect
from bench.flame import categorize
from bench.kafka_io import produce
from bench.procs import BenchError
from bench.state import StateReport
from bench.streams import Variant, base_stream, regroup, steady_stream, without_accounts
from tracker.kafka.broker import ensure_topics
from tracker.testing.traffic import Message

REPO = Path(__file__).resolve().parents[1]
PARTITIONS = 8
SEED = 7
# The experiment rows: a short consumer fetch wait instead of Faust's 1.5 s (the default).
SHORT_FETCH_WAIT = {"TRACKER_FETCH_MAX_WAIT": "0.1"}
SHORT_FETCH_WAIT_LABEL = "TRACKER_FETCH_MAX_WAIT=0.1"
# The live 1-event run: short enough timings to watch the idle rule close the last sessions.
LIVE_SETTINGS = {
    "TRACKER_SESSION_GAP": "30",
    "TRACKER_MAX_OUT_OF_ORDER": "2",
    "TRACKER_IDLE_TIMEOUT": "5",
}


@dataclass(frozen=True, slots=True)
class Sizes:
    single_events: int  # 1-event messages (Faust's per-message cost makes these slow)
    batched_events: int  # the same generated events, regrouped into 10- and 100-event batches
    latency_seconds: float
    state_customers: tuple[int, ...]
    traced_customers: tuple[int, ...]  # sizes measured with tracemalloc as well
    limit_messages: dict[int, int]  # the limits read the messages repeated up to this many

    @classmethod
    def full(cls) -> Sizes:
        limits = {1: 200_000, 10: 60_000, 100: 20_000}
        return cls(60_000, 300_000, 40.0, (100_000, 1_000_000), (100_000,), limits)

    @classmethod
    def quick(cls) -> Sizes:
        limits = {1: 60_000, 10: 20_000, 100: 5_000}
        return cls(15_000, 60_000, 20.0, (100_000,), (100_000,), limits)


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def state_report(customers: int, trace: bool) -> StateReport:
    command = [sys.executable, "-m", "bench.state", "--customers", str(customers)]
    if trace:
        command.append("--tracemalloc")
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO)
    data = json.loads(out.stdout)
    return StateReport(
        data["customers"],
        data["events"],
        data["feed_seconds"],
        report.StatePhase(**data["open"]),
        report.StatePhase(**data["reach"]),
        data["changelog_bytes_per_event"],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller streams (a few minutes)")
    parser.add_argument("--soak", type=float, metavar="MINUTES", help="also a steady-load run")
    parser.add_argument("--profile", action="store_true", help="py-spy the tracker worker runs")
    parser.add_argument(
        "--broker",
        choices=("kafka", "tansu"),
        default="kafka" if any((REPO / ".cache/kafka/lib").glob("kafka_2.13-*.jar")) else "tansu",
        help="Apache Kafka 4.x from .cache/kafka/lib (default when present) or embedded Tansu",
    )
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated steps to leave out: limits,experiments,latency,state,scaling",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs of the main rows, median shown (default 3; quick 1)",
    )
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    sizes = Sizes.quick() if args.quick else Sizes.full()
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    command = (
        "make bench"
        if argv is None and len(sys.argv) == 1
        else "python -m bench.run " + " ".join(sys.argv[1:] if argv is None else argv)
    )
    began = time.monotonic()
    rep = report.Report(
        command=command.strip(),
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine.facts(),
        broker="",
        partitions=PARTITIONS,
    )
    root = Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    profiles = root / "profiles"
    log(f"scratch directory {root}; broker {args.broker}")
    with running(args.broker, root) as broker:
        rep.broker = broker.version
        bench = throughput.Bench(
            broker.bootstrap, PARTITIONS, root, [*broker.processes(), psutil.Process()]
        )

        # --- the stream: one generation, three message shapes -------------------------------
        now_ms = int(time.time() * 1000)
        base = base_stream(SEED, sizes.batched_events, now_ms - 3 * 3_600_000)
        variants = [
            Variant("1 event", 1, base[: sizes.single_events]),
            Variant("10 events", 10, regroup(base, 10)),
            Variant("100 events", 100, regroup(base, 100)),
        ]
        env = bench.env("-", "-", 0, root)
        expectations = {}
        topics: dict[str, str] = {}
        limit_topics: dict[str, tuple[str, Variant]] = {}
        for variant in variants:
            expectation = expect(variant.messages, env, PARTITIONS)
            expectations[variant.name] = expectation
            rep.pure.append(
                (
                    variant.name,
                    variant.events / expectation.pure_seconds,
                    len(variant.messages) / expectation.pure_seconds,
                )
            )
            topics[variant.name] = _topic(
                broker.bootstrap, f"bench-{variant.batch}-{now_ms}", variant
            )
            # The limits drain the same messages, repeated: long enough to measure.
            times = max(1, math.ceil(sizes.limit_messages[variant.batch] / len(variant.messages)))
            repeated = Variant(variant.name, variant.batch, variant.messages * times)
            limit_topics[variant.name] = (
                _topic(broker.bootstrap, f"bench-limits-{variant.batch}-{now_ms}", repeated),
                repeated,
            )
            log(
                f"{variant.name}: {variant.events:,} events in {len(variant.messages):,} messages "
                f"(mean {variant.mean_batch:.1f}/message, {variant.bytes / 1e6:.0f} MB); "
                f"pure pipeline {rep.pure[-1][1]:,.0f} events/s"
            )

        # --- (a) limits and (b) the tracker ---------------------------------------------------
        maxima: dict[str, float] = {}
        for variant in variants:
            topic = topics[variant.name]
            if "limits" not in skip:
                limit_topic, repeated = limit_topics[variant.name]
                _add(rep, throughput.raw_read(bench, repeated, limit_topic))
                _add(
                    rep,
                    _repeat(
                        args.repeat,
                        functools.partial(throughput.noop, bench, repeated, limit_topic),
                    ),
                )
                _add(rep, throughput.noop(bench, repeated, limit_topic, fetch_wait_s=0.1))
                if variant.batch == 1:
                    _add(rep, throughput.noop(bench, repeated, limit_topic, changelog="table"))
                    _add(rep, throughput.noop(bench, repeated, limit_topic, changelog="direct"))
            spy = profiles / f"tracker-{variant.batch}.txt" if args.profile else None
            result = _repeat(
                args.repeat,
                functools.partial(
                    throughput.tracker,
                    bench,
                    variant,
                    topic,
                    expectations[variant.name],
                    profile=spy,
                ),
            )
            if spy is not None and spy.exists():
                result.notes.append(f"{variant.name}: measured under py-spy (100 Hz)")
                rep.profiles[f"tracker worker, {variant.name} per message"] = categorize(spy)
            _add(rep, result)
            maxima[variant.name] = result.events_per_s
            if "experiments" not in skip:
                _add(
                    rep,
                    throughput.tracker(
                        bench,
                        variant,
                        topic,
                        expectations[variant.name],
                        settings=SHORT_FETCH_WAIT,
                        name=f"tracker worker, {SHORT_FETCH_WAIT_LABEL}",
                    ),
                )
        if "experiments" not in skip:
            batched = variants[-1]
            plain = Variant(batched.name, batched.batch, without_accounts(batched.messages))
            _add(
                rep,
                throughput.tracker(
                    bench,
                    plain,
                    _topic(broker.bootstrap, f"bench-noaccounts-{now_ms}", plain),
                    expect(plain.messages, env, PARTITIONS),
                    name="tracker worker, events without account_id (experiment)",
                ),
            )

        # --- (e) scaling ------------------------------------------------------------------------
        if "scaling" not in skip:
            batched = variants[-1]
            one = next(
                r
                for r in rep.throughput
                if r.name == "tracker worker" and r.variant == batched.name
            )
            rep.scaling.append(one)
            try:
                two = throughput.tracker(
                    bench, batched, topics[batched.name], expectations[batched.name], workers=2
                )
                rep.scaling.append(two)
                log(_line(two))
                faust_wait = f"tracker worker, {SHORT_FETCH_WAIT_LABEL}"
                if "experiments" not in skip:
                    rep.scaling += [
                        r
                        for r in rep.throughput
                        if r.name == faust_wait and r.variant == batched.name
                    ]
                    two = throughput.tracker(
                        bench,
                        batched,
                        topics[batched.name],
                        expectations[batched.name],
                        workers=2,
                        settings=SHORT_FETCH_WAIT,
                        name=faust_wait,
                    )
                    rep.scaling.append(two)
                    log(_line(two))
            except BenchError as exc:
                rep.notes.append(f"two workers: {exc}")
                log(f"two workers failed: {exc}")

        # --- (c) latency ------------------------------------------------------------------------
        if "latency" not in skip:
            try:
                rate = maxima["1 event"] / 2
                seconds = sizes.latency_seconds
                spy = profiles / "latency-1.txt" if args.profile else None
                rep.latency.append(
                    latency.run(
                        bench,
                        "1 event",
                        functools.partial(_steady, SEED + 1, rate, seconds, 1),
                        rate,
                        LIVE_SETTINGS,
                        live=True,
                        profile=spy,
                    )
                )
                if spy is not None and spy.exists():
                    rep.profiles["tracker worker, live 1-event stream"] = categorize(spy)
                log(
                    f"latency 1 event: p50 {rep.latency[-1].p50_ms:.0f} ms, p99 {rep.latency[-1].p99_ms:.0f} ms"
                )
                if "experiments" not in skip:
                    rep.latency.append(
                        latency.run(
                            bench,
                            f"1 event, {SHORT_FETCH_WAIT_LABEL}",
                            functools.partial(_steady, SEED + 1, rate, seconds, 1),
                            rate,
                            {**LIVE_SETTINGS, **SHORT_FETCH_WAIT},
                            live=True,
                        )
                    )
                rate = maxima["100 events"] / 2
                seconds = sizes.latency_seconds / 2
                rep.latency.append(
                    latency.run(
                        bench,
                        "100 events",
                        functools.partial(_steady, SEED + 2, rate, seconds, 100),
                        rate,
                        {},
                        live=False,
                    )
                )
                log(
                    f"latency 100 events: p50 {rep.latency[-1].p50_ms:.0f} ms, p99 {rep.latency[-1].p99_ms:.0f} ms"
                )
            except BenchError as exc:
                rep.notes.append(f"latency: {exc}")
                log(f"latency failed: {exc}")

        # --- soak -------------------------------------------------------------------------------
        if args.soak:
            rate = maxima["10 events"] / 2
            rep.soak = soak.run(bench, rate, args.soak)
            log(f"soak: RSS growth over the second half {rep.soak.growth_mib:.1f} MiB")

    # --- (d) state, in-process (no broker needed) -----------------------------------------------
    if "state" not in skip:
        for customers in sizes.state_customers:
            rep.state.append(state_report(customers, customers in sizes.traced_customers))
            log(
                f"state at {customers:,} customers: {rep.state[-1].open.row_bytes_per_customer:.0f} B rows per open session"
            )

    rep.seconds = time.monotonic() - began
    text = report.markdown(rep)
    print(text)
    if not args.no_write:
        report.write(args.output, rep)
        log(f"wrote {args.output}")
    failed = [r for r in [*rep.throughput, *rep.scaling] if r.correct is False] + [
        lat for lat in rep.latency if lat.correct is False
    ]
    return 1 if failed else 0


def _topic(bootstrap: str, name: str, variant: Variant) -> str:
    ensure_topics(bootstrap, [(name, PARTITIONS, {})])
    produce(bootstrap, name, variant.messages, PARTITIONS)
    return name


def _add(rep: report.Report, result: throughput.Result) -> None:
    rep.throughput.append(result)
    log(_line(result))


def _repeat(times: int, run: Callable[[], throughput.Result]) -> throughput.Result:
    """The median of ``times`` runs, noting the range of events/s."""
    results = sorted((run() for _ in range(times)), key=lambda r: r.events_per_s)
    middle = results[len(results) // 2]
    if times > 1:
        low, high = results[0].events_per_s, results[-1].events_per_s
        middle.spread = (low, high)
        middle.correct = (
            all(r.correct is not False for r in results) if middle.correct is not None else None
        )
    return middle


def _steady(seed: int, rate: float, seconds: float, batch: int, start_ms: int) -> list[Message]:
    return regroup(steady_stream(seed, rate, seconds, start_ms), batch)


def _line(r: throughput.Result) -> str:
    extra = f", counts exact: {r.correct}" if r.correct is not None else ""
    return (
        f"{r.name} ({r.variant}, {r.workers} worker(s)): {r.events_per_s:,.0f} events/s, "
        f"{r.messages_per_s:,.0f} msg/s, {r.cores or 0:.2f} cores{extra}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
