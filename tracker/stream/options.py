"""Faust app options from settings: one place, shared with the no-op benchmark worker."""

from __future__ import annotations

import ssl
from typing import Any

import faust

from tracker.kafka.connection import KafkaConnection
from tracker.kafka.topics import LETTER_HEADROOM_BYTES
from tracker.settings import Settings
from tracker.stream.freeze import HEARTBEAT_INTERVAL_S

PRODUCER_BATCH_BYTES = LETTER_HEADROOM_BYTES  # 64 KiB


def faust_options(settings: Settings, bootstrap: str, partitions: int) -> dict[str, Any]:
    connection = settings.kafka_connection(bootstrap)
    options: dict[str, Any] = {
        "broker": ";".join(f"kafka://{h}" for h in connection.bootstrap_servers),
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
        # A produce request carries one batch of each partition, and an agent waits while
        # a changelog partition has more than two queued (stream/changelog.py): larger
        # batches than Faust's 16 KiB, for a broker short of CPU. Where the broker had cores
        # to spare, the two sizes drained alike (BENCHMARKS.md, 2026-12-07, night). Within
        # every topic the worker creates: the dead letters' allows at least
        # LETTER_HEADROOM_BYTES, the others the broker's 1 MB.
        "producer_max_batch_size": PRODUCER_BATCH_BYTES,
        # Measured here: ~3 s to join the group instead of ~30 s with the defaults.
        "broker_session_timeout": settings.broker_session_timeout,
        "broker_rebalance_timeout": settings.broker_session_timeout,
        "broker_heartbeat_interval": HEARTBEAT_INTERVAL_S,
        "stream_wait_empty": False,
        "web_enabled": True,
    }
    credentials = faust_credentials(connection)
    if credentials is not None:
        options["broker_credentials"] = credentials
    return options


def faust_credentials(
    connection: KafkaConnection,
) -> ssl.SSLContext | faust.SASLCredentials | None:
    """The connection's aiokafka options in the shape Faust hands back to aiokafka.

    Faust rebuilds aiokafka's keyword arguments from this object, so wrapping
    ``aiokafka_options()`` keeps one translation for the worker and the collector.
    """
    options = connection.aiokafka_options()
    protocol = options["security_protocol"]
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        context: ssl.SSLContext = options["ssl_context"]
        return context
    # Faust derives SASL_SSL from the presence of a context, SASL_PLAINTEXT from its absence.
    return faust.SASLCredentials(
        username=options["sasl_plain_username"],
        password=options["sasl_plain_password"],
        mechanism=options["sasl_mechanism"],
        ssl_context=options.get("ssl_context"),
    )
