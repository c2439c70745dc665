"""Starting a worker: settings checked, broker found, topics prepared, Faust run."""

from __future__ import annotations

import logging
import sys

from tracker.core.pipeline_config import PipelineConfig
from tracker.core.pseudonym import Pseudonymizer
from tracker.errors import ConfigError
from tracker.kafka.broker import BrokerHandle, resolve
from tracker.kafka.topics import prepare_topics
from tracker.settings import Settings

log = logging.getLogger("tracker.stream.worker")


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


def run_worker(
    settings: Settings,
    pseudonyms: Pseudonymizer,
    handle: BrokerHandle | None = None,
) -> None:
    """Run until stopped; a broker this call started is stopped on the way out."""
    import faust

    from tracker.sentiment.scorer import SentimentScorer
    from tracker.stream.app import build_worker_app
    from tracker.stream.pipeline import WorkerState

    owned = handle is None
    (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)
    handle = handle or resolve(settings)
    try:
        partitions = prepare_topics(settings, handle.bootstrap)
        config = PipelineConfig.from_settings(settings, pseudonyms, SentimentScorer())
        app = build_worker_app(WorkerState(settings, config, partitions), handle.bootstrap)
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
