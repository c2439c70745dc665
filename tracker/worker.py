"""Starting a worker: settings checked, broker found, topics prepared, Faust run."""

from __future__ import annotations

import logging
import sys

from tracker.broker import BrokerHandle, ensure_topics, resolve, topic_partitions
from tracker.errors import ConfigError
from tracker.kafka_clients import client_options
from tracker.pipeline_config import PipelineConfig
from tracker.pseudonym import Pseudonymizer
from tracker.settings import Settings

log = logging.getLogger("tracker.worker")


def pseudonymizer(settings: Settings, *, ephemeral_ok: bool) -> Pseudonymizer:
    key = settings.resolved_pseudonym_key()
    if key is not None:
        if len(key) < 16:
            raise ConfigError("TRACKER_PSEUDONYM_KEY: use at least 16 characters of random secret")
        return Pseudonymizer(key)
    if ephemeral_ok:
        log.warning("demo: using an ephemeral pseudonym key; state does not survive a restart")
        return Pseudonymizer.ephemeral()
    raise ConfigError(
        "TRACKER_PSEUDONYM_KEY is required: set it (or TRACKER_PSEUDONYM_KEY_FILE) to a secret "
        "of at least 16 characters, e.g. `export TRACKER_PSEUDONYM_KEY=$(openssl rand -hex 32)`"
    )


def prepare_topics(settings: Settings, bootstrap: str) -> int:
    """Create the topics the worker needs; returns the input topic's partition count."""
    from tracker.app import ACCOUNT_TABLE, LETTER_HEADROOM_BYTES, TABLE, activity_topic

    options = client_options(settings)
    existing = topic_partitions(bootstrap, settings.topic, options)
    partitions = existing or settings.partitions
    if existing and existing != settings.partitions:
        log.warning(
            "topic %s has %d partitions (TRACKER_PARTITIONS=%d applies only when creating it)",
            settings.topic,
            existing,
            settings.partitions,
        )
    dlq_retention_ms = str(int(settings.dlq_retention_hours * 3_600_000))
    ensure_topics(
        bootstrap,
        [
            (settings.topic, partitions, {}),
            (
                settings.dlq_topic,
                partitions,
                {
                    "retention.ms": dlq_retention_ms,
                    # A letter of an accepted message near the size limit, with its headers.
                    "max.message.bytes": str(settings.max_message_bytes + LETTER_HEADROOM_BYTES),
                },
            ),
            (f"{settings.worker_id}-{TABLE}-changelog", partitions, {"cleanup.policy": "compact"}),
            (
                f"{settings.worker_id}-{ACCOUNT_TABLE}-changelog",
                partitions,
                {"cleanup.policy": "compact"},
            ),
            (activity_topic(settings.worker_id), partitions, {}),
            (f"{settings.worker_id}-__assignor-__leader", 1, {}),
        ],
        replication_factor=settings.replication_factor,
        client_options=options,
    )
    return partitions


def run_worker(
    settings: Settings,
    pseudonyms: Pseudonymizer,
    handle: BrokerHandle | None = None,
) -> None:
    """Run until stopped; a broker this call started is stopped on the way out."""
    import faust

    from tracker.app import Worker, build_app
    from tracker.sentiment import SentimentScorer

    owned = handle is None
    (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)
    handle = handle or resolve(settings)
    try:
        partitions = prepare_topics(settings, handle.bootstrap)
        config = PipelineConfig.from_settings(settings, pseudonyms, SentimentScorer())
        app = build_app(Worker(settings, config, partitions), handle.bootstrap)
        print(
            f"tracker worker: broker {handle.url}, topic {settings.topic} ({partitions} partitions),"
            f" metrics http://{settings.web_host}:{settings.web_port}/metrics",
            file=sys.stderr,
            flush=True,
        )
        faust.Worker(app, loglevel="INFO").execute_from_commandline()
    finally:
        if owned:
            handle.stop()
