"""What a worker must show for a stream, message by message, from the pure reference logic.

The reference pipeline (``tracker.testing.reference``) is fed the same messages with
the same settings. After every message it records, for that message's
partition, the sum of the *progress counters* (events counted, dropped,
rejected, erasures): every input message moves it, and in a worker it moves
the moment the message is applied. Reading the same sums per ``partition``
label from ``/metrics`` therefore tells exactly how many messages (and
events) of each partition a worker has applied: the basis of the throughput
and the produce-to-metrics latency figures.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tracker.core.aggregates import SEP
from tracker.core.pipeline_config import PipelineConfig
from tracker.core.pseudonym import Pseudonymizer
from tracker.kafka.partitioner import partition_for
from tracker.metrics.samples import Sample, total
from tracker.sentiment.scorer import SentimentScorer
from tracker.settings import Settings
from tracker.testing.reference import ReferencePipeline
from tracker.testing.streams import counter_table
from tracker.testing.traffic import Message

PROGRESS_COUNTERS = (
    "tracker_events_total",
    "tracker_events_dropped_total",
    "tracker_events_rejected_total",
    "tracker_erasures_total",
)


def internal_errors(samples: Sequence[Sample]) -> list[str]:
    """A message the tracker failed on is a bug: it fails a run whatever the counts say."""
    count = total(samples, "tracker_events_rejected_total", reason="internal_error")
    return [f"internal_error: {count:g} messages the tracker failed on"] if count else []


@dataclass(slots=True)
class PartitionTrack:
    """One partition's messages in offset order: cumulative progress and events."""

    progress: list[int] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    index: list[int] = field(default_factory=list)  # position in the input list

    def applied(self, observed: int) -> int:
        """How many of this partition's messages a progress sum of ``observed`` covers."""
        return bisect.bisect_right(self.progress, observed)

    def events_applied(self, observed: int) -> int:
        done = self.applied(observed)
        return self.events[done - 1] if done else 0


@dataclass(slots=True)
class Expectation:
    partitions: dict[int, PartitionTrack]
    counters: dict[str, float]  # counter_table of the reference once every message is applied
    total_events: int
    total_messages: int
    # CPU time of this thread in PartitionProcessor.process and co.: wall time counted the
    # broker's JVM starting beside it and moved the figure by up to 1.5x between runs.
    pure_seconds: float
    final_counters: dict[str, float] = field(default_factory=dict)  # once every session closed

    def events_applied(self, progress: Mapping[int, int]) -> int:
        return sum(track.events_applied(progress.get(p, 0)) for p, track in self.partitions.items())

    def final_progress(self) -> dict[int, int]:
        return {p: (t.progress[-1] if t.progress else 0) for p, t in self.partitions.items()}

    def complete(self, progress: Mapping[int, int]) -> bool:
        return all(progress.get(p, 0) >= v for p, v in self.final_progress().items())


def worker_settings(env: Mapping[str, str]) -> Settings:
    """The settings a worker started with ``env`` (TRACKER_* variables) runs with."""
    values = {k.removeprefix("TRACKER_").lower(): v for k, v in env.items()}
    keep = set(Settings.model_fields)
    return Settings(**{k: v for k, v in values.items() if k in keep})  # type: ignore[arg-type]


def config_for(env: Mapping[str, str]) -> PipelineConfig:
    settings = worker_settings(env)
    key = settings.resolved_pseudonym_key()
    assert key is not None, "the benchmark sets TRACKER_PSEUDONYM_KEY"
    return PipelineConfig.from_settings(settings, Pseudonymizer(key), SentimentScorer())


def progress_of(pipeline: ReferencePipeline, partition: int) -> int:
    counters = pipeline.processors[partition].aggregates.counters
    return sum(n for key, n in counters.items() if key.split(SEP, 1)[0] in PROGRESS_COUNTERS)


# The reference's stores keep every write they made (``MemoryStore.log``, for the tests
# that replay it); nothing here reads it. Kept, the soak's aged calibration (~3M events)
# held 13 GB in this process within minutes.
FORGET_EVERY = 10_000


def forget_changelog(pipeline: ReferencePipeline) -> None:
    for store in (*pipeline.stores.values(), *pipeline.account_stores.values()):
        store.log.clear()


def expect(
    messages: Sequence[Message], env: Mapping[str, str], partitions: int, *, final: bool = False
) -> Expectation:
    """Feed the reference; with ``final`` also tick far ahead so that every session closes."""
    config = config_for(env)
    pipeline = ReferencePipeline(config, partitions)
    # Warm up lazily loaded parts (the German sentiment lexicon) outside the timing.
    scorer = config.rules.scorer
    if isinstance(scorer, SentimentScorer):
        scorer.warm_up()
    tracks = {p: PartitionTrack() for p in range(partitions)}
    events_so_far = dict.fromkeys(range(partitions), 0)
    pure = 0.0
    for index, message in enumerate(messages):
        started = time.thread_time()
        partition = pipeline.feed(
            message.key, message.value, message.timestamp_ms, message.timestamp_ms
        )
        pure += time.thread_time() - started
        assert partition == partition_for(message.key, partitions)
        track = tracks[partition]
        events_so_far[partition] += message.events
        track.progress.append(progress_of(pipeline, partition))
        track.events.append(events_so_far[partition])
        track.index.append(index)
        if index % FORGET_EVERY == FORGET_EVERY - 1:
            forget_changelog(pipeline)
    expectation = Expectation(
        tracks,
        counter_table(pipeline.samples()),
        sum(m.events for m in messages),
        len(messages),
        pure,
    )
    if final and messages:
        # The worker's clock, not a jump: its flush timer ticks every second, so the idle rule
        # moves the watermark second by second and an identify's hand-over lands (and its
        # held events count) before the watermark passes its hold timeout. One jump far ahead
        # would time the holds out first and count their events as late.
        last = max(m.timestamp_ms for m in messages)
        settings = worker_settings(env)
        quiet_ms = int(
            (settings.session_gap + settings.max_out_of_order + settings.idle_timeout + 60) * 1000
        )
        for moment in range(last, last + quiet_ms, 1_000):
            pipeline.tick(moment)
        pipeline.tick(last + 400 * 86_400_000)  # what stays open closes, as it would in time
        expectation.final_counters = counter_table(pipeline.samples())
    return expectation
