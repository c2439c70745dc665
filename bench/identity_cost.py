"""What identity stitching costs: the same traffic with and without logins, same run.

``python -m bench.identity_cost`` drives the production ``PartitionProcessor``s of
8 partitions directly, in this process, with the generated stream (one event per
message) of one seed twice: once with 30 % of the consented journeys logging in
mid-journey (claims, hand-overs, held and forwarded events through an in-process
identity topic, every record encoded, routed and applied as the worker does), once
with none. It prints events/s of each (best of ``--rounds``) and their ratio; the
target (issue 15) is at most 15 % slower with logins. BENCHMARKS.md records a run.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import deque

from tracker.core.memory_store import MemoryStore
from tracker.core.pipeline_config import PipelineConfig
from tracker.core.pseudonym import Pseudonymizer
from tracker.kafka.partitioner import partition_for
from tracker.sentiment.scorer import SentimentScorer
from tracker.settings import Settings
from tracker.testing.identity_traffic import LOGIN_SHARE
from tracker.testing.traffic import Message, TrafficGenerator

PARTITIONS = 8
START_MS = 1_777_881_600_000  # 2026-05-04T08:00Z, as the generated streams


def stream(seed: int, events: int, login_share: float) -> list[Message]:
    generator = TrafficGenerator(
        random.Random(seed), returning_pool=max(200, events // 20), login_share=login_share
    )
    return generator.simulate(events, START_MS, 200.0, max_batch=1)


def drive(config: PipelineConfig, messages: list[Message]) -> tuple[float, int]:
    """Seconds to apply the stream (identity records routed at once), and records routed."""
    procs = {p: config.processor(p, MemoryStore(), PARTITIONS) for p in range(PARTITIONS)}
    offsets = dict.fromkeys(procs, -1)
    identity_offsets = dict.fromkeys(procs, -1)
    routed = 0
    began = time.perf_counter()
    for message in messages:
        p = partition_for(message.key, PARTITIONS)
        offsets[p] += 1
        proc = procs[p]
        proc.process(
            message.key, message.value, offsets[p], message.timestamp_ms, message.timestamp_ms
        )
        proc.outbox.clear()
        queue = deque(proc.identity.take())
        while queue:
            send = queue.popleft()
            target = procs[send.partition]
            identity_offsets[send.partition] += 1
            target.process_identity(send.value, identity_offsets[send.partition])
            target.outbox.clear()
            queue.extend(target.identity.take())
            routed += 1
    return time.perf_counter() - began, routed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args(argv)
    config = PipelineConfig.from_settings(
        Settings(), Pseudonymizer(b"bench-pseudonym-key-0123456789abcdef"), SentimentScorer()
    )
    variants = (("without logins", 0.0), (f"{LOGIN_SHARE:.0%} logging in", LOGIN_SHARE))
    streams = [stream(args.seed, args.events, share) for _, share in variants]
    best = [(float("inf"), 0)] * len(variants)
    for _ in range(args.rounds):  # alternating, so a busy moment of the machine hits both
        for i, messages in enumerate(streams):
            best[i] = min(best[i], drive(config, messages))
    rows = [
        (name, sum(m.events for m in messages), sum(m.events for m in messages) / took, routed)
        for (name, _), messages, (took, routed) in zip(variants, streams, best, strict=True)
    ]
    print("| traffic | events | events/s | identity records |")
    print("|---|---|---|---|")
    for name, events, rate, routed in rows:
        print(f"| {name} | {events:,} | {rate:,.0f} | {routed:,} |")
    ratio = rows[1][2] / rows[0][2]
    print(f"\nwith logins: {ratio:.1%} of the throughput without (target: at least 85 %)")
    return 0 if ratio >= 0.85 else 1


if __name__ == "__main__":
    raise SystemExit(main())
