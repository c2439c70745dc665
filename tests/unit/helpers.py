"""Shared builders for the unit tier: events, a one-partition harness, metric reading.

Times in tests are seconds after ``T0`` (a Monday morning, UTC), so a test reads
like a timeline: ``ev("page_view", "ana", 30 * MIN)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from tracker.core.customer import CustomerState, decode_state
from tracker.core.ingest import DeadLetter
from tracker.core.memory_store import MemoryStore
from tracker.core.partition import PartitionProcessor
from tracker.core.pipeline_config import PipelineConfig
from tracker.core.pseudonym import Pseudonymizer
from tracker.core.timestamps import to_ms
from tracker.metrics.samples import Sample, total
from tracker.settings import Settings
from tracker.testing.offline_exporter import offline_exporter, offline_samples

if TYPE_CHECKING:
    from tracker.testing.reference import ReferencePipeline

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
T0_MS = to_ms(T0)
SEC = 1
MIN = 60
HOUR = 3600
DAY = 86_400

# Explicit values, so a TRACKER_* variable in the developer's shell cannot change a unit test.
STANDARD = {
    "session_gap": 1800,
    "max_out_of_order": 10,
    "idle_timeout": 60,
    "max_future": 600,
    "session_max_duration": 86_400,
    "dedup_window": 86_400,
    "repurchase_lookback": 90 * 86_400,
    "withdrawal_memory": 90 * 86_400,
    "max_message_bytes": 1_048_576,
    "max_message_events": 500,
}

_ids = itertools.count(1)


def ms(at: float) -> int:
    """Epoch milliseconds of ``at`` seconds after T0."""
    return T0_MS + round(at * 1000)


def iso(at: float) -> str:
    """RFC 3339 text of ``at`` seconds after T0, to the millisecond."""
    moment = T0 + timedelta(milliseconds=round(at * 1000))
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ev(event_type: str, customer: str, at: float, /, **fields: Any) -> dict[str, Any]:
    """A valid event of ``customer`` at ``at`` seconds after T0; ``fields`` override.

    ``analytics=False`` sets the consent flag; a field set to ``None`` is removed.
    """
    analytics = fields.pop("analytics", True)
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": f"e{next(_ids)}",
        "event_type": event_type,
        "customer_id": customer,
        "occurred_at": iso(at),
        "channel": "web",
        "touchpoint": "home",
        "consent": {"analytics": analytics, "marketing": False},
    }
    if event_type == "interaction":
        event["action"] = "search"
    elif event_type == "order":
        event.update(order_id=f"o{next(_ids)}", revenue="10.00", currency="EUR")
    elif event_type == "feedback" and not {"nps", "csat", "ces", "comment"} & fields.keys():
        event["nps"] = 9
    elif event_type == "identify":
        event["anonymous_id"] = f"device-of-{customer}"
    elif event_type == "web_vital":
        event.update(name="LCP", value=1200, rating="good")
    elif event_type.startswith("support_"):
        event.update(ticket_id="ticket-1", support_channel="chat")
    event.update(fields)
    return {k: v for k, v in event.items() if v is not None}


def encode(events: dict[str, Any] | list[dict[str, Any]]) -> bytes:
    return orjson.dumps(events)


class FakeScore:
    def __init__(self, compound: float) -> None:
        self.compound = compound
        self.polarity = (
            "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"
        )


class FakeScorer:
    """Deterministic stand-in for the lexicon scorer: 'good'/'gut' +0.6, 'bad'/'schlecht' -0.6."""

    def score(self, text: str, language: str) -> FakeScore:
        words = text.lower().split()
        value = 0.6 * sum(w in ("good", "gut") for w in words)
        value -= 0.6 * sum(w in ("bad", "schlecht") for w in words)
        return FakeScore(max(-1.0, min(1.0, value)))


def config(**overrides: Any) -> PipelineConfig:
    settings = Settings(**{**STANDARD, **overrides})
    return PipelineConfig.from_settings(
        settings, Pseudonymizer(b"unit-test-key-0123456789abcdef"), FakeScorer()
    )


def samples_of(
    processors: Mapping[int, PartitionProcessor], cfg: PipelineConfig, now_ms: int = 0
) -> list[Sample]:
    return offline_samples(offline_exporter(processors, cfg, now_ms))


class Harness:
    """One partition with a MemoryStore; the wall clock follows the broker time by default."""

    def __init__(self, partition: int = 0, **overrides: Any) -> None:
        self.cfg = config(**overrides)
        self.store = MemoryStore()
        self.p = self.cfg.processor(partition, self.store)
        self.offset = -1
        self.wall_ms = 0
        self.letters: list[DeadLetter] = []
        self._cache: tuple[tuple[int, ...], list[Sample]] | None = None

    # --- input ------------------------------------------------------------------
    def raw(
        self,
        key: bytes | str | None,
        value: bytes | None,
        broker_ms: int | None = None,
        wall_ms: int | None = None,
    ) -> list[DeadLetter]:
        """Process one message as it is on the wire."""
        if isinstance(key, str):
            key = key.encode()
        broker = broker_ms if broker_ms is not None else max(self.wall_ms, T0_MS)
        self.wall_ms = max(self.wall_ms, wall_ms if wall_ms is not None else broker)
        self.offset += 1
        letters = self.p.process(key, value, self.offset, broker, self.wall_ms)
        self.letters.extend(letters)
        return letters

    def send(
        self,
        *events: dict[str, Any],
        batch: bool = False,
        broker_at: float | None = None,
        key: str | None = None,
    ) -> list[DeadLetter]:
        """Events one message each (or as one batch); broker time = latest event time."""
        broker_ms = max(_event_ms(e) for e in events) if broker_at is None else ms(broker_at)
        if batch:
            customer = key if key is not None else events[0]["customer_id"]
            return self.raw(customer, encode(list(events)), broker_ms)
        letters: list[DeadLetter] = []
        for e in events:
            customer = key if key is not None else e["customer_id"]
            letters += self.raw(customer, encode(e), broker_ms)
        return letters

    # --- time ---------------------------------------------------------------------
    def tick(self, wall_ms: int) -> None:
        self.wall_ms = max(self.wall_ms, wall_ms)
        self.p.tick(wall_ms)
        self.p.flush()

    def idle_to(self, at: float) -> None:
        """Quiet input until the watermark (wall clock minus out-of-orderness) reaches ``at``."""
        wall = ms(at) + self.cfg.timing.max_out_of_order_ms
        assert wall - self.wall_ms >= self.cfg.timing.idle_timeout_ms, "idle_to needs a quiet gap"
        self.tick(wall)

    def close_all(self) -> None:
        """A long quiet period: every open session closes."""
        self.tick(max(self.wall_ms, T0_MS) + 400 * DAY * 1000)

    # --- reading ------------------------------------------------------------------
    def samples(self) -> list[Sample]:
        self.p.flush()
        # Rendering is the slow part of a test; any change writes the store or moves time.
        version = (id(self.p), len(self.store.log), self.p.watermark_ms, self.wall_ms)
        if self._cache is None or self._cache[0] != version:
            samples = samples_of({self.p.partition: self.p}, self.cfg, self.wall_ms)
            self._cache = (version, samples)
        return self._cache[1]

    def total(self, name: str, **labels: str) -> float:
        return total(self.samples(), name, **labels)

    def gauge(self, name: str, **labels: str) -> float:
        values = [
            v for n, lab, v in self.samples() if n == name and set(labels.items()) <= set(lab)
        ]
        assert len(values) == 1, f"{name}{labels}: {values}"
        return values[0]

    def counters(self) -> dict[str, int]:
        return {k: v for k, v in self.p.aggregates.counters.items() if v}

    def state(self, customer: str) -> CustomerState | None:
        row = self.p.customer_row(customer)
        if row is None or row.get("s") is None:
            return None
        return decode_state(row["s"], self.p.rules.labels.touchpoints)


def _event_ms(event: dict[str, Any]) -> int:
    return to_ms(datetime.fromisoformat(event["occurred_at"]))


def sample_dict(samples: Iterable[Sample]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(name, labels): value for name, labels, value in samples}


def replay_golden(stream: Path) -> tuple[list[Sample], list[Sample]]:
    """A golden stream through the reference pipeline: samples at its end, then once closed.

    Broker time is each event's ``sent_at`` (else ``occurred_at``). A long idle timeout
    keeps the reference time at the stream's end for the first samples; the second are
    read after 11 quiet days, when every session has closed.
    """
    pipe, last = feed_golden(stream)
    at_end = pipe.samples()
    pipe.tick(last + 11 * DAY * 1000)
    return at_end, pipe.samples()


def feed_golden(stream: Path) -> tuple[ReferencePipeline, int]:
    """The reference pipeline fed ``stream`` (see ``replay_golden``), and its last broker time."""
    from tracker.testing.reference import ReferencePipeline

    pipe = ReferencePipeline(config(idle_timeout=10 * DAY))
    last = 0
    for line in stream.read_bytes().splitlines():
        event = orjson.loads(line)
        broker = to_ms(datetime.fromisoformat(event.get("sent_at") or event["occurred_at"]))
        last = max(last, broker)
        pipe.feed(event["customer_id"].encode(), line, broker, broker)
    return pipe, last
