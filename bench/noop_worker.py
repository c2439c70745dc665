"""A Faust worker whose agent does nothing with the messages: the ceiling of the stack.

Same app options as the tracker worker (``tracker.stream.options.faust_options``) and the
same raw topic, read from the same ``TRACKER_*`` environment; it counts
messages and serves the count at ``/bench/count``. Experiments:

- ``BENCH_NOOP_CHANGELOG=table``: also write one 400-byte row per message to
  a table's changelog (``Table.send_changelog``), as the tracker's
  per-message state write does: the cost of that write alone;
  ``=direct``: the same record sent with the transport producer, awaited in
  the agent, without Faust's per-record ``FutureMessage`` machinery;
  ``=appended``: the same record appended to the producer's open batch, as the tracker
  worker writes its rows (``tracker.stream.changelog``).
- ``BENCH_NOOP_EAGER=1``: fetched records handed to the agent's stream as the tracker
  worker hands them (``tracker.stream.faust_patches.hand_over_eagerly``), not through
  Faust's four tasks a record. The issue's reference stays the unpatched agent.
- ``TRACKER_FETCH_MAX_WAIT`` and ``TRACKER_FETCH_MIN_BYTES``: the consumer's fetch wait
  and size, as for the tracker (``tracker.stream.faust_patches.shape_fetches``; 0.1 s and
  64 KiB by default, Faust's own are 1.5 s and 1 byte).

    TRACKER_BROKER=kafka://127.0.0.1:9092 TRACKER_TOPIC=… python -m bench.noop_worker
"""

from __future__ import annotations

import json
import os
from typing import Any

import faust

from tracker.heap import settle_heap
from tracker.settings import load_settings
from tracker.stream.changelog import ChangelogAppender, ChangelogPartition
from tracker.stream.faust_patches import hand_over_eagerly, shape_fetches
from tracker.stream.options import faust_options


def main() -> None:
    settings = load_settings()
    shape_fetches(settings.fetch_max_wait, settings.fetch_min_bytes)
    bootstrap = settings.bootstrap
    if bootstrap is None:
        raise SystemExit("bench.noop_worker: set TRACKER_BROKER")
    (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)
    options = faust_options(settings, bootstrap, settings.partitions)
    options.update(json.loads(os.environ.get("BENCH_FAUST_OPTIONS", "{}")))  # experiments
    app = faust.App(settings.worker_id, **options)
    if os.environ.get("BENCH_NOOP_EAGER"):
        hand_over_eagerly(app.consumer)
    source = app.topic(
        settings.topic, key_serializer="raw", value_serializer="raw", partitions=settings.partitions
    )
    seen = {"messages": 0}
    write = os.environ.get("BENCH_NOOP_CHANGELOG", "")
    table = app.Table(
        "bench-rows", partitions=settings.partitions, key_type=bytes, value_type=bytes
    )
    row = b"x" * 400

    changelog = f"{settings.worker_id}-bench-rows-changelog"
    appender = ChangelogAppender(app.producer, lambda _sent: None)
    writers: dict[int, ChangelogPartition] = {}

    @app.agent(source)
    async def consume(stream: Any) -> None:
        async for event in stream.events():
            seen["messages"] += 1
            message = event.message
            if write == "table":
                table.send_changelog(message.partition, message.key, row, "raw", "raw")
            elif write == "direct":
                await app.producer.send(changelog, message.key, row, message.partition, None, None)
            elif write == "appended":
                writer = writers.get(message.partition)
                if writer is None:
                    writer = writers[message.partition] = appender.partition(
                        table, message.partition
                    )
                writer.send(message.key, row)
                await appender.ebb()

    @app.page("/bench/count")
    async def count(web: Any, _request: Any) -> Any:
        return web.json(seen)

    @app.page("/readyz")
    async def readyz(web: Any, _request: Any) -> Any:
        partitions = sorted(
            tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.topic
        )
        ok = bool(partitions) and not app.rebalancing
        return web.json({"ready": ok, "partitions": partitions}, status=200 if ok else 503)

    settle_heap()  # as the tracker worker does: the same stack, the same GC schedule
    faust.Worker(app, loglevel="WARNING").execute_from_commandline()


if __name__ == "__main__":
    main()
