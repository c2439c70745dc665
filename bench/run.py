"""``make bench``: the tracker beside the limits of its stack, in one run on one broker.

    python -m bench.run              # full run (~20-27 min here), updates BENCHMARKS.md
    python -m bench.run --quick      # smaller streams, a few minutes
    python -m bench.run --soak 60    # also 60 minutes at 70% of the maximum rate: flat memory
    python -m bench.run --profile    # also py-spy profiles of the worker runs

Steps: (a) limits: raw aiokafka ``getmany`` and a no-op Faust agent on the
same messages; (b) the tracker worker on 1-event messages and on 10- and
100-event batches, every counter checked against the pure reference logic;
(c) produce-to-/metrics latency at half the measured maximum rate, and the
idle rule closing sessions on time; (d) state bytes per open session and per
customer, and /metrics scrape time, at 100k and 1M customers; (e) one vs two
workers; (f) one customer id sending 50,000 events a day (bench/hot_id.py); (g) the
Segment API's batches of 100 against /v1/events, collector on one core. See
BENCHMARKS.md for the method and the findings.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench import hot_id, machine, report, segment_load, soak, throughput
from bench.brokers import running
from bench.latency_steps import latencies, soaked
from bench.plan import PARTITIONS, Context, Sizes, log, prepare
from bench.state import StateReport
from bench.throughput_steps import limits_and_tracker, scaling, without_accounts_experiment
from tracker.heap import settle_heap

REPO = Path(__file__).resolve().parents[1]


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
        data.get("changelog_json_bytes_per_event", 0.0),
    )


def share_of_maximum(text: str) -> float:
    share = float(text)
    if not 0 < share <= 1:
        raise argparse.ArgumentTypeError(f"{text}: a share of the maximum rate, in (0, 1]")
    return share


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller streams (a few minutes)")
    parser.add_argument("--soak", type=float, metavar="MINUTES", help="also a steady-load run")
    parser.add_argument(
        "--soak-share",
        type=share_of_maximum,
        default=soak.SHARE,
        metavar="SHARE",
        help="the soak's rate as a share of the worker's maximum (default 0.7, the target's)",
    )
    parser.add_argument(
        "--soak-traced",
        type=int,
        default=0,
        metavar="FRAMES",
        help="run the soak's worker under tracemalloc, FRAMES a trace: the second half's "
        "growth by allocation site (~10x slower with 4 frames: pair with a --soak-share "
        "of 0.05)",
    )
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
        help="comma-separated steps to leave out: "
        "limits,experiments,latency,state,scaling,hot,segment",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs of the main rows, median shown (default 3; quick 1)",
    )
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settle_heap()  # the pure pipeline's timing runs here, with the tracker's own GC schedule
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    sizes = Sizes.quick() if args.quick else Sizes.full()
    repeat = args.repeat if args.repeat is not None else 1 if args.quick else 3
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
    log(f"scratch directory {root}; broker {args.broker}")
    with running(args.broker, root) as broker:
        rep.broker = broker.version
        bench = throughput.Bench(
            broker.bootstrap, PARTITIONS, root, [*broker.processes(), psutil.Process()]
        )
        streams = prepare(broker.bootstrap, bench, rep, sizes, root)
        profiles = root / "profiles" if args.profile else None
        ctx = Context(bench, rep, sizes, streams, broker.bootstrap, skip, repeat, profiles)
        maxima = limits_and_tracker(ctx)  # (a) limits and (b) the tracker
        if ctx.wanted("experiments"):
            without_accounts_experiment(ctx)
        if ctx.wanted("scaling"):
            scaling(ctx)  # (e)
        if ctx.wanted("latency"):
            latencies(ctx, maxima)  # (c)
        if args.soak:
            soaked(ctx, args.soak, args.soak_share, args.soak_traced)
    if "hot" not in skip:  # (f) one hot customer id, in-process
        rep.hot_id = hot_id.run(repeat=1 if args.quick else 2)
        log(" ".join(rep.hot_id.target_row()[1:]))
    if "segment" not in skip:  # (g) the Segment API on one core, its own broker
        rep.segment = segment_load.run(requests=300 if args.quick else 1_000)
        log(" ".join(rep.segment.target_row()[1:]))
    if "state" not in skip:  # (d) in-process, no broker needed
        for customers in sizes.state_customers:
            rep.state.append(state_report(customers, customers in sizes.traced_customers))
            log(
                f"state at {customers:,} customers: {rep.state[-1].open.row_bytes_per_customer:.0f} B rows per customer"
            )
    rep.seconds = time.monotonic() - began
    return finish(rep, args.output, write=not args.no_write)


def finish(rep: report.Report, output: Path, write: bool) -> int:
    """Print (and write) the report; 1 when any checked run counted wrong."""
    text = report.markdown(rep)
    print(text)
    if write:
        report.write(output, rep)
        log(f"wrote {output}")
    failed = [r for r in [*rep.throughput, *rep.scaling] if r.correct is False] + [
        lat for lat in rep.latency if lat.correct is False
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
