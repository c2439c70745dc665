"""The pure pipeline in-process, compiled core against its Python source, alternated.

    python -m bench.compiled_core [--rounds 3]

Each round runs one process per form (``TRACKER_CORE=compiled`` and ``=source``) over the
same generated stream as ``make bench`` (1 event per message, and arrays of 10 and 100),
timed in thread CPU time, best of two passes; the medians over the rounds are printed
with their ratio. Needs ``make compile`` first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SHAPES = (1, 10, 100)


def measure() -> dict[str, float]:
    """In this process: events per CPU-second of each shape, with the form that loaded."""
    from bench.expect import config_for
    from bench.procs import worker_env
    from bench.streams import base_stream, regroup
    from bench.throughput import PSEUDONYM_KEY
    from tracker.core import FORM
    from tracker.sentiment.scorer import SentimentScorer
    from tracker.testing.reference import ReferencePipeline

    env = worker_env(
        {
            "TRACKER_BROKER": "kafka://localhost:1",
            "TRACKER_PSEUDONYM_KEY": PSEUDONYM_KEY,
            "TRACKER_PARTITIONS": "8",
        }
    )
    base = base_stream(20251123, 60_000, 1_796_000_000_000)
    config = config_for(env)
    if isinstance(config.rules.scorer, SentimentScorer):
        config.rules.scorer.warm_up()  # loaded outside the timing
    rates: dict[str, float] = {}
    for shape in SHAPES:
        messages = base[:15_000] if shape == 1 else regroup(base, shape)
        events = sum(m.events for m in messages)
        for _ in range(2):
            pipeline = ReferencePipeline(config, 8)
            began = time.thread_time()
            for m in messages:
                pipeline.feed(m.key, m.value, m.timestamp_ms, m.timestamp_ms)
            rate = events / (time.thread_time() - began)
            rates[str(shape)] = max(rates.get(str(shape), 0.0), rate)
    return {"form": FORM, **rates}  # type: ignore[dict-item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure()))
        return
    runs: dict[str, list[dict[str, float]]] = {"compiled": [], "source": []}
    for _ in range(args.rounds):
        for form in runs:
            out = subprocess.run(
                [sys.executable, "-m", "bench.compiled_core", "--child"],
                env={**os.environ, "TRACKER_CORE": form},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            runs[form].append(json.loads(out.strip().splitlines()[-1]))
    print("| messages | compiled events/s | source events/s | ratio |")
    print("|---|---|---|---|")
    for shape in SHAPES:
        key = str(shape)
        fast = statistics.median(r[key] for r in runs["compiled"])
        slow = statistics.median(r[key] for r in runs["source"])
        label = "1 event" if shape == 1 else f"{shape} events"
        print(f"| {label} | {fast:,.0f} | {slow:,.0f} | {fast / slow:.2f}x |")


if __name__ == "__main__":
    main()
