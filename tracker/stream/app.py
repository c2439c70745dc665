"""The Faust wiring: the only module that imports Faust.

One agent reads the input topic as raw bytes and hands every message to
the ``PartitionProcessor`` of its partition. State rows live in one Faust
Table (memory store) whose changelog is written with the input partition
explicitly, also from timers; on recovery each newly assigned partition's
processor is rebuilt from the restored rows. Only actively assigned
partitions are exported, never standby copies.
"""

from __future__ import annotations

import logging
import os
import signal
import ssl
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import faust
from faust.exceptions import ProducerSendError
from faust.transport.drivers import aiokafka as aiokafka_driver
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Metric, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tracker.core.accounts import AccountProcessor, pack
from tracker.core.partition import DeadLetter, PartitionProcessor
from tracker.core.pipeline_config import PipelineConfig
from tracker.kafka.topics import (
    ACCOUNT_TABLE,
    CONTROL_HEADER,
    LETTER_HEADROOM_BYTES,
    TABLE,
    activity_topic,
)
from tracker.metrics.exposition import StateExporter, WorkerView
from tracker.metrics.overview import History, overview
from tracker.metrics.samples import parse_exposition
from tracker.settings import Settings
from tracker.stream.pending import PendingWrites

log = logging.getLogger("tracker.stream.worker")
# aiohttp refuses a charset inside content_type; Prometheus reads text format 0.0.4 without it.
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST.split(";")[0]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class FaustStore:
    """A partition's view of the Faust table: writes go to that partition's changelog."""

    def __init__(self, table: Any, partition: int, pending: PendingWrites | None = None) -> None:
        self.table = table
        self.partition = partition
        self.pending = pending or PendingWrites()
        store = table.data
        self._rows: dict[bytes, bytes] = store.data
        # Faust's memory store drops keys of lost partitions by this map on recovery.
        self._key_partition: dict[bytes, int] = store._key_partition

    def get(self, key: str) -> bytes | None:
        return self._rows.get(key.encode())

    def put(self, key: str, value: bytes) -> None:
        raw = key.encode()
        # A right-sized copy: orjson.dumps returns bytes in a buffer of at least 4 KiB
        # (orjson >= 3.12, not shrunk), ~5 KiB held per customer instead of ~1 KiB.
        self._rows[raw] = bytes(memoryview(value))
        self._key_partition[raw] = self.partition
        self.pending.track(self.table.send_changelog(self.partition, raw, value, "raw", "raw"))

    def delete(self, key: str) -> None:
        raw = key.encode()
        self._rows.pop(raw, None)
        self._key_partition.pop(raw, None)
        self.pending.track(self.table.send_changelog(self.partition, raw, None, "raw", "raw"))

    def items(self, prefix: str) -> Iterable[tuple[str, bytes]]:
        head = prefix.encode()
        return [(k.decode(), v) for k, v in list(self._rows.items()) if k.startswith(head)]


@dataclass
class WorkerState:
    """What the running worker holds besides Faust itself."""

    settings: Settings
    config: PipelineConfig
    partitions: int
    processors: dict[int, PartitionProcessor] = field(default_factory=dict)
    accounts: dict[int, AccountProcessor] = field(default_factory=dict)
    ready: bool = False
    # Messages Faust delivered again after a restart or rebalance (at-least-once) that the
    # restored state had already applied: skipped, and logged once the partition moves on.
    redelivered: dict[int, int] = field(default_factory=dict)
    last_offsets: dict[int, int] = field(default_factory=dict)
    pending: PendingWrites = field(default_factory=PendingWrites)


HEARTBEAT_INTERVAL_S = 1.0
END_OFFSETS_INTERVAL_S = 5.0
TRUNCATED_LETTER_BYTES = 65_536


class FreezeGuard:
    """Restarts the worker in place when the whole process stood still too long.

    A worker paused (SIGSTOP, a frozen VM or container) for about the consumer-group
    session timeout has been expired by the coordinator, and its partitions are
    already another worker's. Resumed, it would still act as their owner for a
    moment: Faust's buffered changelog writes go out, timers flush, the agent
    handles fetched messages, all landing after the new owner's rows, where the
    next recovery restores them (stale state: events lost or counted twice).
    Kafka fences such zombies only with transactions, and Faust's exactly-once
    mode is not reliable (faust-streaming/faust#323, robinhood/faust#658). So the
    freeze is noticed before the main thread runs any other Python code -- in a
    SIGCONT handler, or by a watchdog thread whose own ticks stopped -- and the
    process replaces itself (exec, like kill -9 and restart: nothing buffered is
    sent) with a fresh worker that rejoins the group and restores from the
    changelogs, which is proven exact.
    """

    def __init__(
        self,
        limit_s: float,
        on_freeze: Callable[[float], None] | None = None,
        tick_s: float = 0.2,
    ) -> None:
        self.limit_s = limit_s
        self.tick_s = tick_s
        self.on_freeze = on_freeze or restart_in_place
        self.last = time.monotonic()
        self.frozen_s = 0.0

    @classmethod
    def for_settings(cls, settings: Settings) -> FreezeGuard:
        # A freeze shorter than this cannot have cost the group membership: the last
        # heartbeat before it is at most one interval old (margin for scheduling).
        return cls(max(1.0, settings.broker_session_timeout - HEARTBEAT_INTERVAL_S - 0.5))

    def start(self) -> None:
        """From the main thread: install the SIGCONT handler, start the watchdog."""
        self.last = time.monotonic()
        signal.signal(signal.SIGCONT, self._on_sigcont)
        threading.Thread(target=self._watch, name="freeze-guard", daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(self.tick_s)
            now = time.monotonic()
            if now - self.last >= self.limit_s:
                self.frozen_s = now - self.last  # before `last` moves: the handler sees one
                self.on_freeze(self.frozen_s)
            self.last = now

    def _on_sigcont(self, _signum: int, _frame: object) -> None:
        frozen = max(self.frozen_s, time.monotonic() - self.last)
        if frozen >= self.limit_s:
            self.on_freeze(frozen)


class StateRows(Collector):
    """``tracker_state_rows{table}``: rows held in memory, to watch state size over time.

    Counts what the worker's Faust tables hold (active and standby partitions),
    read at scrape time in O(1).
    """

    def __init__(self, tables: Iterable[Any]) -> None:
        self.tables = tuple(tables)

    def collect(self) -> Iterable[Metric]:
        rows = GaugeMetricFamily(
            "tracker_state_rows", "State rows this worker holds in memory", labels=["table"]
        )
        for table in self.tables:
            rows.add_metric([table.name], len(table.data.data))
        yield rows


def restart_in_place(frozen_s: float) -> None:
    """Replace this process with a fresh worker (same PID, arguments and environment)."""
    message = (
        f"tracker worker: the process stood still for {frozen_s:.1f}s, long enough to lose "
        "its partitions to another worker; restarting in place before it writes stale state\n"
    )
    os.write(2, message.encode())
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def commit_only_what_is_written(producer: Any, pending: PendingWrites) -> None:
    """Faust flushes the producer before it commits offsets: make that flush complete."""
    flush = producer.flush

    async def flush_and_wait() -> None:
        await flush()
        queued = getattr(getattr(producer, "buffer", None), "size", 0)
        if queued or len(pending.futures) > 1000:
            log.info(
                "producer flush returned with %d writes queued, %d unacknowledged: waiting",
                queued,
                len(pending.futures),
            )
        await pending.wait()

    producer.flush = flush_and_wait


def cap_fetch_wait(seconds: float) -> None:
    """Let consumer fetches wait at the broker for ``seconds``, not Faust's fixed 1.5 s.

    faust-streaming 0.15.3 builds its aiokafka consumer with ``fetch_max_wait_ms=1500``
    and no setting to change it. aiokafka keeps one fetch in flight per broker, and a
    fetch leaves out partitions that still have records buffered; so once those are
    consumed, their next records wait until the in-flight fetch for the other, quiet
    partitions (changelogs, the activity topic) has waited its 1.5 s out. Under live
    traffic that put ~1.5 s into every event's way to ``/metrics`` (BENCHMARKS.md).
    The default stays Faust's 1.5 s: with 0.1 s, crash and scale-out scenarios on Kafka
    (tests/integration/test_reliability.py) twice saw a worker stop consuming after a
    restart, right after a record was delivered twice; not understood yet.
    """
    thread = aiokafka_driver.AIOKafkaConsumerThread
    create = getattr(thread, "_tracker_create_worker_consumer", None)
    if create is None:
        create = thread._create_worker_consumer
        thread._tracker_create_worker_consumer = create  # type: ignore[attr-defined]

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        consumer._fetch_max_wait_ms = round(seconds * 1000)  # read when its fetcher starts
        return consumer

    thread._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign]


def faust_options(settings: Settings, bootstrap: str, partitions: int) -> dict[str, Any]:
    options: dict[str, Any] = {
        "broker": ";".join(f"kafka://{h}" for h in bootstrap.split(",")),
        "store": "memory://",
        "topic_partitions": partitions,
        "topic_replication_factor": settings.replication_factor,
        "web_port": settings.web_port,
        "web_bind": settings.web_host,
        "datadir": str(settings.data_dir / "faust"),
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,
        # Faust's default (1,000,000 bytes) refuses dead letters of messages near 1 MiB.
        "producer_max_request_size": settings.max_message_bytes + LETTER_HEADROOM_BYTES,
        # Measured here: ~3 s to join the group instead of ~30 s with the defaults.
        "broker_session_timeout": settings.broker_session_timeout,
        "broker_rebalance_timeout": settings.broker_session_timeout,
        "broker_heartbeat_interval": HEARTBEAT_INTERVAL_S,
        "stream_wait_empty": False,
        "web_enabled": True,
    }
    credentials = _credentials(settings)
    if credentials is not None:
        options["broker_credentials"] = credentials
    return options


def _credentials(settings: Settings) -> Any:
    protocol = settings.kafka_security_protocol.upper()
    if protocol == "PLAINTEXT":
        return None
    context = ssl.create_default_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    )
    if protocol == "SSL":
        return context
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password,
        mechanism=settings.kafka_sasl_mechanism or "PLAIN",
        ssl_context=context if protocol == "SASL_SSL" else None,
    )


def build_worker_app(worker: WorkerState, bootstrap: str) -> faust.App:
    settings = worker.settings
    cap_fetch_wait(settings.fetch_max_wait)
    app = faust.App(settings.worker_id, **faust_options(settings, bootstrap, worker.partitions))
    commit_only_what_is_written(app.producer, worker.pending)
    source = app.topic(
        settings.topic,
        key_serializer="raw",
        value_serializer="raw",
        partitions=worker.partitions,
    )
    dlq = app.topic(settings.dlq_topic, key_serializer="raw", value_serializer="raw")
    table = app.Table(
        TABLE,
        partitions=worker.partitions,
        key_type=bytes,  # Faust derives the "raw" codec from bytes
        value_type=bytes,
        extra_topic_configs={"cleanup.policy": "compact"},
    )

    activities = app.topic(
        activity_topic(settings.worker_id),
        key_serializer="raw",
        value_serializer="raw",
        partitions=worker.partitions,
        internal=True,
    )
    account_table = app.Table(
        ACCOUNT_TABLE,
        partitions=worker.partitions,
        key_type=bytes,
        value_type=bytes,
        extra_topic_configs={"cleanup.policy": "compact"},
    )

    def account_processor_for(partition: int) -> AccountProcessor:
        processor = worker.accounts.get(partition)
        if processor is None:
            store = FaustStore(account_table, partition, worker.pending)
            processor = worker.config.account_processor(partition, store)
            processor.recover(now_ms())
            worker.accounts[partition] = processor
        return processor

    @app.agent(activities)
    async def accounts(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            account_processor_for(message.partition).process(
                message.value, message.offset, now_ms()
            )

    def processor_for(partition: int) -> PartitionProcessor:
        processor = worker.processors.get(partition)
        if processor is None:
            processor = worker.config.processor(
                partition, FaustStore(table, partition, worker.pending)
            )
            processor.recover(now_ms())
            worker.processors[partition] = processor
            log.info(
                "partition %d: state restored (applied offset %d)",
                partition,
                processor.applied_offset,
            )
        return processor

    async def send_letter(key: bytes | None, letter: DeadLetter) -> None:
        """Dead-letter the original bytes; if the producer refuses them, a truncated copy.

        A refused send raises in the agent, which Faust restarts without the letter.
        """
        try:
            worker.pending.track(
                await dlq.send(key=key, value=letter.value, headers=letter.headers())
            )
        except ProducerSendError as exc:
            log.error(
                "partition %d offset %d: dead letter of %d bytes refused (%s); sending its "
                "first %d bytes",
                letter.source_partition,
                letter.source_offset,
                len(letter.value),
                type(exc.__cause__ or exc).__name__,
                TRUNCATED_LETTER_BYTES,
            )
            headers = [
                *letter.headers(),
                ("tracker-value-truncated", str(len(letter.value)).encode()),
            ]
            worker.pending.track(
                await dlq.send(
                    key=key, value=letter.value[:TRUNCATED_LETTER_BYTES], headers=headers
                )
            )

    @app.agent(source)
    async def consume(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            processor = processor_for(message.partition)
            _note_redelivery(worker, message.partition, message.offset, processor.applied_offset)
            try:
                letters = processor.process(
                    message.key,
                    message.value,
                    message.offset,
                    int(message.timestamp * 1000),
                    now_ms(),
                    _control(message.headers),
                )
            except Exception as exc:  # a bug must not stop the partition: dead-letter and go on
                # The frames only: an exception's text could quote customer data.
                log.error(
                    "partition %d offset %d: internal error %s, message dead-lettered\n%s",
                    message.partition,
                    message.offset,
                    type(exc).__name__,
                    "".join(traceback.format_tb(exc.__traceback__)),
                )
                letters = [processor.fail(message.value, message.offset, exc)]
            for letter in letters:
                await send_letter(message.key, letter)
            for account, record in pack(processor.outbox):
                worker.pending.track(await activities.send(key=account.encode(), value=record))
            processor.outbox.clear()

    def active_partitions(topic: str) -> set[int]:
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}

    @table.on_recover
    async def _recovered() -> None:
        active = active_partitions(settings.topic)
        for partition in list(worker.processors):
            if partition not in active:
                del worker.processors[partition]
        for partition in sorted(active):
            processor_for(partition)
        worker.ready = True

    @account_table.on_recover
    async def _accounts_recovered() -> None:
        active = active_partitions(activities.get_topic_name())
        for partition in list(worker.accounts):
            if partition not in active:
                del worker.accounts[partition]
        for partition in sorted(active):
            account_processor_for(partition)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def _revoked(_app: Any, revoked: set[Any], **_: Any) -> None:
        # No flush here: a member the group already expired (paused, cut off) is told of
        # the revocation only after the next owner started writing the same changelog
        # partitions; a flush now would land stale rows after the new owner's. The new owner
        # restores unflushed epochs from the rows' deltas, exactly as after a crash.
        worker.ready = False
        for tp in revoked:
            if tp.topic == settings.topic:
                worker.processors.pop(tp.partition, None)
            elif tp.topic == activities.get_topic_name():
                worker.accounts.pop(tp.partition, None)

    @app.timer(interval=settings.flush_interval)  # type: ignore[untyped-decorator]
    async def _housekeeping() -> None:
        moment = now_ms()
        for processor in list(worker.processors.values()):
            processor.tick(moment)
            processor.flush()
        for account in list(worker.accounts.values()):
            account.tick(moment)
            account.flush()

    @app.task  # type: ignore[untyped-decorator]
    async def _guard_against_freezes() -> None:
        FreezeGuard.for_settings(settings).start()  # tasks run on the main thread

    registry = CollectorRegistry()

    # The high watermark of the last fetch is stale while Faust pauses a partition (a full
    # stream buffer, recovery): the lag would read 0 with a backlog. Ask the broker too.
    end_offsets: dict[int, int] = {}

    @app.timer(interval=END_OFFSETS_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def _refresh_end_offsets() -> None:
        tps = [faust.types.TP(settings.topic, p) for p in sorted(worker.processors)]
        try:
            found = await app.consumer.highwaters(*tps) if tps else {}
        except Exception as exc:  # a rebalance or broker failover: keep the last answer
            log.debug("end offsets not refreshed: %r", exc)
            return
        end_offsets.update({tp.partition: int(offset) for tp, offset in found.items()})

    def consumer_lag(partition: int) -> int | None:
        processor = worker.processors.get(partition)
        try:
            highwater = app.consumer.highwater(faust.types.TP(settings.topic, partition))
        except Exception:  # not assigned or not fetched yet
            highwater = None
        newest = max(int(highwater or -1), end_offsets.get(partition, -1))
        if processor is None or newest < 0:
            return None
        return max(newest - processor.applied_offset - 1, 0)

    registry.register(
        StateExporter(
            WorkerView(
                partitions=lambda: worker.processors,
                now_ms=now_ms,
                consumer_lag=consumer_lag,
                funnel=worker.config.rules.labels.funnel,
                repurchase_seconds=worker.config.repurchase_seconds,
                accounts=lambda: worker.accounts,
                currencies=worker.config.rules.labels.currencies,
            )
        )
    )

    registry.register(StateRows((table, account_table)))

    @app.page("/metrics")
    async def metrics(web: Any, _request: Any) -> Any:
        return web.bytes(generate_latest(registry), content_type=METRICS_CONTENT_TYPE)

    history = History()
    page_html = (resources.files("tracker") / "static" / "overview.html").read_bytes()

    def current_overview() -> dict[str, Any]:
        return overview(parse_exposition(generate_latest(registry).decode()))

    @app.timer(interval=history.interval_s)  # type: ignore[untyped-decorator]
    async def _sample_history() -> None:
        history.record(time.time(), current_overview())

    @app.page("/")
    async def overview_page(web: Any, _request: Any) -> Any:
        return web.bytes(page_html, content_type="text/html")

    @app.page("/api/overview")
    async def overview_api(web: Any, _request: Any) -> Any:
        return web.json({"overview": current_overview(), "history": history.as_list()})

    @app.page("/healthz")
    async def healthz(web: Any, _request: Any) -> Any:
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web: Any, _request: Any) -> Any:
        ok = worker.ready and not app.rebalancing
        body = {"ready": ok, "partitions": sorted(worker.processors)}
        return web.json(body, status=200 if ok else 503)

    return app


def _note_redelivery(worker: WorkerState, partition: int, offset: int, applied: int) -> None:
    last = worker.last_offsets.get(partition)
    if last is not None and offset != last + 1:
        log.info("partition %d: offset %d follows offset %d", partition, offset, last)
    worker.last_offsets[partition] = offset
    if offset <= applied:
        worker.redelivered[partition] = worker.redelivered.get(partition, 0) + 1
    elif partition in worker.redelivered:
        log.info(
            "partition %d: skipped %d re-delivered messages already applied (up to offset %d)",
            partition,
            worker.redelivered.pop(partition),
            applied,
        )


def _control(headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None) -> str | None:
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        if name == CONTROL_HEADER:
            return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return None
