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
import ssl
import time
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from tracker.accounts import AccountProcessor
from tracker.exposition import TrackerCollector, WorkerView
from tracker.overview import History, overview
from tracker.partition import PartitionProcessor
from tracker.pipeline_config import PipelineConfig
from tracker.reference import parse_exposition
from tracker.settings import Settings

log = logging.getLogger("tracker.worker")
TABLE = "tracker-state"
ACCOUNT_TABLE = "tracker-accounts"


def activity_topic(worker_id: str) -> str:
    """The re-keyed stream of B2B account activity (an internal repartition topic)."""
    return f"{worker_id}-account-activity"


CONTROL_HEADER = "tracker-control"
# aiohttp refuses a charset inside content_type; Prometheus reads text format 0.0.4 without it.
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST.split(";")[0]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class FaustStore:
    """A partition's view of the Faust table: writes go to that partition's changelog."""

    def __init__(self, table: Any, partition: int) -> None:
        self.table = table
        self.partition = partition
        store = table.data
        self._rows: dict[bytes, bytes] = store.data
        # Faust's memory store drops keys of lost partitions by this map on recovery.
        self._key_partition: dict[bytes, int] = store._key_partition

    def get(self, key: str) -> bytes | None:
        return self._rows.get(key.encode())

    def put(self, key: str, value: bytes) -> None:
        raw = key.encode()
        self._rows[raw] = value
        self._key_partition[raw] = self.partition
        self.table.send_changelog(self.partition, raw, value, "raw", "raw")

    def delete(self, key: str) -> None:
        raw = key.encode()
        self._rows.pop(raw, None)
        self._key_partition.pop(raw, None)
        self.table.send_changelog(self.partition, raw, None, "raw", "raw")

    def items(self, prefix: str) -> Iterable[tuple[str, bytes]]:
        head = prefix.encode()
        return [(k.decode(), v) for k, v in list(self._rows.items()) if k.startswith(head)]


@dataclass
class Worker:
    """What the running worker holds besides Faust itself."""

    settings: Settings
    config: PipelineConfig
    partitions: int
    processors: dict[int, PartitionProcessor] = field(default_factory=dict)
    accounts: dict[int, AccountProcessor] = field(default_factory=dict)
    ready: bool = False


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
        # Measured here: ~3 s to join the group instead of ~30 s with the defaults.
        "broker_session_timeout": settings.broker_session_timeout,
        "broker_rebalance_timeout": settings.broker_session_timeout,
        "broker_heartbeat_interval": 1,
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


def build_app(worker: Worker, bootstrap: str) -> faust.App:
    settings = worker.settings
    app = faust.App(settings.worker_id, **faust_options(settings, bootstrap, worker.partitions))
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
            store = FaustStore(account_table, partition)
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
            processor = worker.config.processor(partition, FaustStore(table, partition))
            processor.recover(now_ms())
            worker.processors[partition] = processor
            log.info(
                "partition %d: state restored (applied offset %d)",
                partition,
                processor.applied_offset,
            )
        return processor

    @app.agent(source)
    async def consume(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            processor = processor_for(message.partition)
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
                await dlq.send(key=message.key, value=letter.value, headers=letter.headers())
            for activity in processor.outbox:
                await activities.send(key=activity.account.encode(), value=activity.to_bytes())
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
        worker.ready = False
        for tp in revoked:
            processor = (
                worker.processors.pop(tp.partition, None) if tp.topic == settings.topic else None
            )
            if processor is not None:
                processor.flush()  # hand the next owner a clean epoch
            account = (
                worker.accounts.pop(tp.partition, None)
                if tp.topic == activities.get_topic_name()
                else None
            )
            if account is not None:
                account.flush()

    @app.timer(interval=settings.flush_interval)  # type: ignore[untyped-decorator]
    async def _housekeeping() -> None:
        moment = now_ms()
        for processor in list(worker.processors.values()):
            processor.tick(moment)
            processor.flush()
        for account in list(worker.accounts.values()):
            account.tick(moment)
            account.flush()

    registry = CollectorRegistry()

    def consumer_lag(partition: int) -> int | None:
        processor = worker.processors.get(partition)
        try:
            highwater = app.consumer.highwater(faust.types.TP(settings.topic, partition))
        except Exception:  # not assigned or not fetched yet
            return None
        if processor is None or highwater is None:
            return None
        return max(int(highwater) - processor.applied_offset - 1, 0)

    registry.register(
        TrackerCollector(
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


def _control(headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None) -> str | None:
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        if name == CONTROL_HEADER:
            return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return None
