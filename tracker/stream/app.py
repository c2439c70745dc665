"""The Faust wiring: topics, tables, agents and timers of one worker, and nothing else.

One agent reads the input topic as raw bytes and hands every message to the
``PartitionProcessor`` of its partition (``pipeline.Pipeline``). State rows live in
one Faust Table (memory store) whose changelog is written with the input partition
explicitly, also from timers; on recovery each newly assigned partition's processor
is rebuilt from the restored rows. Only actively assigned partitions are exported,
never standby copies. B2B account activity goes through a second, re-keyed topic to
its own agent and table.
"""

from __future__ import annotations

import time
from typing import Any

import faust

from tracker.kafka.topics import ACCOUNT_TABLE, TABLE, activity_topic, compacted, identity_topic
from tracker.settings import Settings
from tracker.stream.batches import batched_events
from tracker.stream.changelog import ChangelogAppender
from tracker.stream.faust_patches import (
    SeekTrail,
    commit_only_what_is_written,
    deliver_refetched,
    hand_over_eagerly,
    shape_fetches,
    trace_seeks,
)
from tracker.stream.freeze import FreezeGuard
from tracker.stream.holes import AfterSeek
from tracker.stream.options import faust_options
from tracker.stream.pipeline import Pipeline, Topology, WorkerState
from tracker.stream.web import (
    END_OFFSETS_INTERVAL_S,
    ConsumerLag,
    register_memory_page,
    register_pages,
    worker_metrics,
)


def build_worker_app(worker: WorkerState, bootstrap: str) -> faust.App:
    settings = worker.settings
    shape_fetches(settings.fetch_max_wait, settings.fetch_min_bytes)
    app = faust.App(settings.worker_id, **faust_options(settings, bootstrap, worker.partitions))
    commit_only_what_is_written(app.producer, worker.pending)
    worker.changelog = ChangelogAppender(app.producer, worker.pending.track)
    topology = declare_topology(app, settings, worker.partitions)
    identity, activities = identity_topic(settings.worker_id), activity_topic(settings.worker_id)
    deliver_refetched(app.consumer, (settings.topic, identity, activities))
    hand_over_eagerly(app.consumer)
    trail = SeekTrail()
    trace_seeks(app.consumer, trail)

    def pause(partition: int) -> None:
        # The identity topic's partition of that number writes the same state: it waits too.
        tps = [faust.types.TP(topic, partition) for topic in (settings.topic, identity)]
        app.consumer.pause_partitions(tps)

    topics = {"input": settings.topic, "identity": identity, "activity": activities}

    async def rewind(stream: str, partition: int, offset: int) -> None:
        await app.consumer.seek_wait({faust.types.TP(topics[stream], partition): offset})

    def highwater(stream: str, partition: int) -> int | None:
        try:
            return int(app.consumer.highwater(faust.types.TP(topics[stream], partition)))
        except Exception:  # not assigned or not fetched yet
            return None

    def sought(stream: str, partition: int) -> AfterSeek | None:
        return trail.after_seek(topics[stream], partition)

    pipeline = Pipeline(worker, topology, pause, rewind, sought)
    register_agents(app, topology, pipeline)
    register_timers(app, settings, pipeline)
    lag = ConsumerLag(app, worker)

    @app.timer(interval=END_OFFSETS_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def _refresh_end_offsets() -> None:
        await lag.refresh()
        await pipeline.seek_stalled(highwater, time.monotonic())

    register_pages(app, worker, worker_metrics(worker, topology, lag), lag)
    register_memory_page(app, worker, (topology.table, topology.account_table))
    return app


def declare_topology(app: faust.App, settings: Settings, partitions: int) -> Topology:
    """Every topic and table the worker uses; all bytes in, bytes out (the codec is ours)."""

    def table(name: str) -> Any:
        return app.Table(
            name,
            partitions=partitions,
            key_type=bytes,  # Faust derives the "raw" codec from bytes
            value_type=bytes,
            # Bounded compaction, as the topics the tracker creates itself (PRIVACY.md).
            extra_topic_configs=compacted(settings),
        )

    raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
    return Topology(
        source=app.topic(settings.topic, partitions=partitions, **raw),
        dlq=app.topic(settings.dlq_topic, **raw),
        activities=app.topic(
            activity_topic(settings.worker_id), partitions=partitions, internal=True, **raw
        ),
        identity=app.topic(
            identity_topic(settings.worker_id), partitions=partitions, internal=True, **raw
        ),
        table=table(TABLE),
        account_table=table(ACCOUNT_TABLE),
    )


def register_agents(app: faust.App, topology: Topology, pipeline: Pipeline) -> None:
    """The two agents and the recovery and revocation hooks."""

    @app.agent(topology.source)
    async def consume(stream: Any) -> None:
        # Acknowledged by hand: a message of a paused partition is left unacknowledged, so
        # its offset is never committed and nothing is skipped (docs/operations.md).
        manual = stream.noack()
        async for event in batched_events(manual):  # stream/batches.py: what it bypasses
            if await pipeline.handle(event.message):
                await manual.ack(event)

    @app.agent(topology.identity)
    async def identities(stream: Any) -> None:
        manual = stream.noack()  # like the input: a paused partition's records stay unacked
        async for event in batched_events(manual):
            if await pipeline.handle_identity(event.message):
                await manual.ack(event)

    @app.task  # type: ignore[untyped-decorator]
    async def _send_identity_records() -> None:
        await pipeline.sender.run()

    @app.agent(topology.activities)
    async def accounts(stream: Any) -> None:
        manual = stream.noack()  # a record refused for a hole in the offsets stays unacked
        async for event in batched_events(manual):
            if await pipeline.handle_activity(event.message):
                await manual.ack(event)

    def active_partitions(topic: str) -> set[int]:
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}

    @topology.table.on_recover  # type: ignore[untyped-decorator]
    async def _recovered() -> None:
        pipeline.on_recovered(active_partitions(topology.source.get_topic_name()))

    @topology.account_table.on_recover  # type: ignore[untyped-decorator]
    async def _accounts_recovered() -> None:
        pipeline.on_accounts_recovered(active_partitions(topology.activities.get_topic_name()))

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def _revoked(_app: Any, revoked: set[Any], **_: Any) -> None:
        pipeline.on_revoked(revoked, topology.activities.get_topic_name())


def register_timers(app: faust.App, settings: Settings, pipeline: Pipeline) -> None:
    @app.timer(interval=settings.flush_interval)  # type: ignore[untyped-decorator]
    async def _housekeeping() -> None:
        await pipeline.housekeeping()

    @app.task  # type: ignore[untyped-decorator]
    async def _guard_against_freezes() -> None:
        FreezeGuard.for_settings(settings).start()  # tasks run on the main thread
