"""One hot identifier: a partition's rate while one id sends 50,000 events in 24 hours.

A shared kiosk, a bot or a load test keyed by one customer id must not take a
partition down (issue 17): the partition keeps at least half its normal rate and
the customer's row stays at most 16 KiB. Measured on the pure ``PartitionProcessor``
driven directly, in-process: the same day of generated traffic fed once as it is
and once with the hot id's events (one per message, spread over the day) mixed in.

    python -m bench.hot_id [--events 100000] [--hot 50000]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import orjson

from tracker.core.dedup import ROW_BOUND_BYTES
from tracker.core.memory_store import MemoryStore
from tracker.core.pipeline_config import PipelineConfig
from tracker.core.pseudonym import Pseudonymizer
from tracker.settings import Settings
from tracker.testing.streams import generated_messages
from tracker.testing.traffic import Message

DAY_MS = 86_400_000
HOT = "kiosk-0001"
FLUSH_EVERY = 500  # messages between flushes: the worker flushes once a second
TOUCHPOINTS = ("home", "product", "cart", "search", "category", "checkout")


@dataclass
class HotIdResult:
    events: int  # normal events
    hot_events: int
    normal_events_per_s: float
    mixed_events_per_s: float
    hot_row_bytes: int  # the largest the hot customer's row got
    hot_customers: int  # tracker_hot_customers_total at the end

    @property
    def share(self) -> float:
        return self.mixed_events_per_s / self.normal_events_per_s

    def target_row(self) -> tuple[str, str, str]:
        met = self.share >= 0.5 and self.hot_row_bytes <= ROW_BOUND_BYTES
        return (
            f"one id sending {self.hot_events:,} events in 24 h: the partition keeps ≥ 50% "
            f"of its rate, the row ≤ {ROW_BOUND_BYTES // 1024} KiB",
            f"{self.share:.0%} ({self.mixed_events_per_s:,.0f} vs {self.normal_events_per_s:,.0f}"
            f" events/s); row {self.hot_row_bytes:,} B; {self.hot_customers} hot customer(s)"
            " counted",
            "met" if met else "missed",
        )


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def hot_messages(count: int, start_ms: int) -> list[Message]:
    """The hot id's events, one per message, evenly over 24 hours from ``start_ms``."""
    out = []
    for i in range(count):
        at = start_ms + i * DAY_MS // count
        event = {
            "schema_version": 1,
            "event_id": f"kiosk-{i}",
            "event_type": "page_view" if i % 4 else "interaction",
            "customer_id": HOT,
            "occurred_at": _iso(at),
            "channel": "store",
            "touchpoint": TOUCHPOINTS[i % len(TOUCHPOINTS)],
            "consent": {"analytics": True, "marketing": False},
        }
        if event["event_type"] == "interaction":
            event["action"] = "search"
        out.append(Message(HOT.encode(), orjson.dumps(event), at, 1))
    return out


def _feed(messages: list[Message], hot_key: str | None) -> tuple[float, int, int]:
    """Seconds to apply ``messages`` on one partition; the hot row's largest size; hot count."""
    config = PipelineConfig.from_settings(Settings(), Pseudonymizer(b"bench-hot-id-key-0123456789"))
    store = MemoryStore()
    processor = config.processor(0, store)
    largest = 0
    began = time.process_time()  # CPU time: other processes on a shared machine add none
    for offset, m in enumerate(messages):
        processor.process(m.key, m.value, offset, m.timestamp_ms, m.timestamp_ms)
        processor.outbox.clear()
        if offset % FLUSH_EVERY == 0:
            processor.flush()
            if hot_key is not None:
                largest = max(largest, len(store.get(hot_key) or b""))
    processor.flush()
    seconds = time.process_time() - began
    hot = processor.aggregates.counters.get("tracker_hot_customers_total", 0)
    return seconds, largest, hot


def run(events: int = 100_000, hot: int = 50_000, repeat: int = 2) -> HotIdResult:
    normal = generated_messages(seed=17, events=events, rate=events / 86_400, batch=1)
    normal_events = sum(m.events for m in normal)
    mixed = sorted(
        [*normal, *hot_messages(hot, normal[0].timestamp_ms)], key=lambda m: m.timestamp_ms
    )
    pseudonym = Pseudonymizer(b"bench-hot-id-key-0123456789").of(HOT)
    normal_s = mixed_s = float("inf")
    for _ in range(repeat):  # alternated, best of each: a busy moment skews neither alone
        normal_s = min(normal_s, _feed(normal, None)[0])
        seconds, largest, counted = _feed(mixed, f"0/c/{pseudonym}")
        mixed_s = min(mixed_s, seconds)
    return HotIdResult(
        normal_events,
        hot,
        normal_events / normal_s,
        (normal_events + hot) / mixed_s,
        largest,
        counted,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--hot", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    result = run(args.events, args.hot, args.repeat)
    print(json.dumps({**asdict(result), "share": result.share, "row": result.target_row()}))


if __name__ == "__main__":
    main()
