"""The worker's HTTP side: ``/metrics``, the overview page and its API, health and readiness."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Iterable, Sequence
from importlib import resources
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Metric
from prometheus_client.registry import Collector

from tracker.kafka.topics import identity_topic
from tracker.metrics.dead_letters import DeadLetterGauge
from tracker.metrics.exposition import StateExporter, WorkerView, gauge
from tracker.metrics.families import gauge_of
from tracker.metrics.overview import History, overview
from tracker.metrics.render import Only, render
from tracker.metrics.samples import collected
from tracker.stream.memory_report import TableView, Throttle, memory_report, resident_bytes
from tracker.stream.pipeline import Topology, WorkerState, now_ms
from tracker.stream.traced_memory import TracedSites

log = logging.getLogger("tracker.stream.worker")
# aiohttp refuses a charset inside content_type; Prometheus reads text format 0.0.4 without it.
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST.split(";")[0]
END_OFFSETS_INTERVAL_S = 5.0
# No answer from the broker for this long: the overview page says the broker is lost.
BROKER_LOST_AFTER_S = 4 * END_OFFSETS_INTERVAL_S


class StateRows(Collector):
    """``tracker_state_rows{table}``: rows held in memory, to watch state size over time.

    Counts what the worker's Faust tables hold (active and standby partitions),
    read at scrape time in O(1).
    """

    def __init__(self, tables: Iterable[Any]) -> None:
        self.tables = tuple(tables)

    def collect(self) -> Iterable[Metric]:
        rows = gauge("tracker_state_rows")
        for table in self.tables:
            rows.add_metric([table.name], len(table.data.data))
        yield rows


class PartitionHealth(Collector):
    """``tracker_partition_failed{partition}``: 1 while a partition is paused after a fault;
    and ``tracker_input_partitions``, the input topic's partition count.

    Every restored partition is exported with 0, so the partitions the fleet exports
    together, against the topic's count, show one no worker has restored: a worker that
    hangs in Faust's changelog recovery exports none of its partitions, not even their
    lag (alert ``TrackerPartitionsNotRestored``, RELIABILITY.md).
    """

    def __init__(self, worker: WorkerState) -> None:
        self.worker = worker

    def collect(self) -> Iterable[Metric]:
        failed = gauge("tracker_partition_failed")
        worker = self.worker
        for partition in sorted({*worker.processors, *worker.failed}):
            failed.add_metric([str(partition)], 1 if partition in worker.failed else 0)
        yield failed
        yield gauge_of("tracker_input_partitions", [([], worker.partitions)])


class ConsumerLag:
    """Messages not yet processed per partition, from fetch high-waters and the broker:
    the input topic's (``__call__``) and the identity topic's (``identity``), whose records
    are hand-overs on their way between partitions.

    The high watermark of the last fetch is stale while Faust pauses a partition (a full
    stream buffer, recovery): the lag would read 0 with a backlog. So the broker's end
    offsets are asked too, every few seconds.
    """

    def __init__(self, app: faust.App, worker: WorkerState) -> None:
        self.app = app
        self.worker = worker
        self.topics = (worker.settings.topic, identity_topic(worker.settings.worker_id))
        self.end_offsets: dict[tuple[str, int], int] = {}
        self.started = time.monotonic()
        self.answered: float | None = None  # when the broker last answered

    async def refresh(self) -> None:
        partitions = sorted(self.worker.processors)
        if not partitions:  # nothing to ask about: a later assignment starts a fresh wait
            self.started, self.answered = time.monotonic(), None
            return
        # Co-partitioned: a worker owns the identity partitions of its input partitions.
        tps = [faust.types.TP(topic, p) for topic in self.topics for p in partitions]
        try:
            # Bounded: a lost broker must not hold the timer until the client gives up.
            found = await asyncio.wait_for(
                self.app.consumer.highwaters(*tps), timeout=END_OFFSETS_INTERVAL_S
            )
        except Exception as exc:  # a rebalance or broker failover: keep the last answer
            log.debug("end offsets not refreshed: %r", exc)
            return
        self.answered = time.monotonic()
        self.end_offsets.update({(tp.topic, tp.partition): int(n) for tp, n in found.items()})

    def broker(self) -> str:
        """``connected``, ``lost`` (no answer for a while), ``waiting`` (none yet) or
        ``idle`` (no partition to ask about)."""
        if not self.worker.processors:
            return "idle"
        last = self.answered if self.answered is not None else self.started
        if time.monotonic() - last > BROKER_LOST_AFTER_S:
            return "lost"
        return "connected" if self.answered is not None else "waiting"

    def __call__(self, partition: int) -> int | None:
        processor = self.worker.processors.get(partition)
        if processor is None:
            return None
        return self._behind(self.topics[0], partition, processor.applied_offset)

    def identity(self, partition: int) -> int | None:
        """Identity records of ``partition`` not yet applied."""
        processor = self.worker.processors.get(partition)
        if processor is None:
            return None
        return self._behind(self.topics[1], partition, processor.identity.applied)

    def _behind(self, topic: str, partition: int, applied: int) -> int | None:
        try:
            highwater = self.app.consumer.highwater(faust.types.TP(topic, partition))
        except Exception:  # not assigned or not fetched yet
            highwater = None
        newest = max(int(highwater or -1), self.end_offsets.get((topic, partition), -1))
        return None if newest < 0 else max(newest - applied - 1, 0)


class WorkerMetrics:
    """The worker's explicit registry: state exported at scrape time, plus table sizes."""

    def __init__(self, collectors: Sequence[Collector]) -> None:
        self.collectors = tuple(collectors)
        self.registry = CollectorRegistry()
        for collector in self.collectors:
            self.registry.register(collector)

    def text(self, names: Collection[str] = ()) -> bytes:
        """``/metrics``; with ``names`` (``name[]``), only the samples of those names."""
        return render(Only(self.collectors, names) if names else self.registry)


def worker_metrics(worker: WorkerState, topology: Topology, lag: ConsumerLag) -> WorkerMetrics:
    """The collectors of ``/metrics``: state exported at scrape time, plus table sizes."""
    labels = worker.config.rules.labels
    return WorkerMetrics(
        (
            StateExporter(
                WorkerView(
                    partitions=lambda: worker.processors,
                    now_ms=now_ms,
                    consumer_lag=lag,
                    identity_lag=lag.identity,
                    funnel=labels.funnel,
                    repurchase_seconds=worker.config.repurchase_seconds,
                    accounts=lambda: worker.accounts,
                    currencies=labels.currencies,
                )
            ),
            StateRows((topology.table, topology.account_table)),
            PartitionHealth(worker),
            DeadLetterGauge(lambda: worker.processors, now_ms, worker.settings.dlq_retention_hours),
        )
    )


def register_memory_page(app: faust.App, worker: WorkerState, tables: Sequence[Any]) -> None:
    """``/debug/memory`` (``stream.memory_report``) over these Faust tables."""
    throttle, traced_throttle = Throttle(), Throttle()
    traced, tracing = TracedSites(), asyncio.Lock()

    @app.page("/debug/memory")
    async def memory(web: Any, request: Any) -> Any:
        def count() -> dict[str, Any]:
            # The rows, and the map Faust keeps beside them to drop a lost partition's keys.
            views = {t.name: TableView(t.data.data, (t.data._key_partition,)) for t in tables}
            objects = request.query.get("gc") == "1"
            return memory_report(views, worker.processors, resident_bytes(), objects)

        report = throttle.answer(time.monotonic(), count)
        if request.query.get("traced") == "1":
            # Grouping every trace takes seconds: in a thread, so that the loop goes on
            # (slowed, as the GIL is shared); one at a time, under the lock (aiohttp does not
            # cancel a handler whose client left, so the lock is held until the thread ends).
            async with tracing:
                sites = await asyncio.to_thread(
                    traced_throttle.answer,
                    time.monotonic(),
                    lambda: {"traced": traced.answer()},
                    time.monotonic,
                )
            found = sites["traced"]
            report = {**report, "traced": found and {**found, "age_s": sites["age_s"]}}
        return web.json(report)


def register_pages(
    app: faust.App, worker: WorkerState, metrics: WorkerMetrics, lag: ConsumerLag
) -> None:
    """Routes of the worker's web server, and the timer that samples the page's history."""
    history = History()
    page_html = (resources.files("tracker") / "static" / "overview.html").read_bytes()
    grafana_url = worker.settings.grafana_url

    def current_overview() -> dict[str, Any]:
        return overview(collected(metrics.registry), grafana_url)

    @app.timer(interval=history.interval_s)  # type: ignore[untyped-decorator]
    async def _sample_history() -> None:
        history.record(time.time(), current_overview())

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        # name[]: only these samples, as prometheus-client's own handler serves them.
        names = request.query.getall("name[]", ())
        return web.bytes(metrics.text(names), content_type=METRICS_CONTENT_TYPE)

    @app.page("/")
    async def overview_page(web: Any, _request: Any) -> Any:
        return web.bytes(page_html, content_type="text/html")

    @app.page("/api/overview")
    async def overview_api(web: Any, _request: Any) -> Any:
        status = {
            "broker": lag.broker(),
            "ready": worker.ready and not app.rebalancing,
            "partitions": len(worker.processors),
        }
        body = {"overview": current_overview(), "history": history.as_list(), "status": status}
        return web.json(body)

    @app.page("/healthz")
    async def healthz(web: Any, _request: Any) -> Any:
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web: Any, _request: Any) -> Any:
        ok = worker.ready and not app.rebalancing
        body = {"ready": ok, "partitions": sorted(worker.processors)}
        return web.json(body, status=200 if ok else 503)
