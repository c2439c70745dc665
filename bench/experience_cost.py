"""What the customer-experience traffic costs: one stream with and without it, same run.

``python -m bench.experience_cost`` drives the production ``PartitionProcessor``s of
8 partitions in this process (as ``bench.identity_cost`` does) with the generated
stream of one seed twice: as generated, with load times (``web_vital``), support
contacts and replies (``support_*``) and experiment pairs; and with those events
removed and the pairs stripped, which is the traffic the tracker handled before
issue 20. Retention is part of both (it is kept per customer from every event).
It prints events/s of each (best of ``--rounds``) and their ratio, and the time per
journey-bearing message; the target (issue 20) is that throughput on the generated
stream drops by at most 10 %. BENCHMARKS.md records a run.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import orjson

from bench.identity_cost import drive, stream
from tracker.core.pipeline_config import PipelineConfig
from tracker.core.pseudonym import Pseudonymizer
from tracker.sentiment.scorer import SentimentScorer
from tracker.settings import Settings
from tracker.testing.identity_traffic import LOGIN_SHARE
from tracker.testing.traffic import Message

CX_TYPES = {"web_vital", "support_contact", "support_reply", "support_resolved"}
PAIR = ("experiment", "variant")


def without_experience(messages: list[Message]) -> list[Message]:
    """The stream as before issue 20: no CX events, no experiment pairs (malformed kept)."""
    kept = []
    for message in messages:
        try:
            events = orjson.loads(message.value or b"")
        except orjson.JSONDecodeError:
            kept.append(message)
            continue
        batch = events if isinstance(events, list) else [events]
        if not all(isinstance(e, dict) for e in batch):
            kept.append(message)
            continue
        batch = [
            {k: v for k, v in e.items() if k not in PAIR}
            for e in batch
            if e.get("event_type") not in CX_TYPES
        ]
        if batch:
            value = orjson.dumps(batch if isinstance(events, list) else batch[0])
            kept.append(replace(message, value=value, events=len(batch)))
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args(argv)
    config = PipelineConfig.from_settings(
        Settings(), Pseudonymizer(b"bench-pseudonym-key-0123456789abcdef"), SentimentScorer()
    )
    generated = stream(args.seed, args.events, LOGIN_SHARE)
    streams = {"without CX traffic": without_experience(generated), "as generated": generated}
    best = dict.fromkeys(streams, float("inf"))
    for _ in range(args.rounds):  # alternating, so a busy moment of the machine hits both
        for name, messages in streams.items():
            best[name] = min(best[name], drive(config, messages)[0])
    print("| traffic | messages | events | events/s |")
    print("|---|---|---|---|")
    rates = {}
    for name, messages in streams.items():
        events = sum(m.events for m in messages)
        rates[name] = events / best[name]
        print(f"| {name} | {len(messages):,} | {events:,} | {rates[name]:,.0f} |")
    ratio = rates["as generated"] / rates["without CX traffic"]
    print(f"\nas generated: {ratio:.1%} of the events/s without CX traffic (target: at least 90 %)")
    return 0 if ratio >= 0.9 else 1


if __name__ == "__main__":
    raise SystemExit(main())
