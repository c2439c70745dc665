"""Starting a worker: settings checked, broker found, topics prepared, Faust run."""

from __future__ import annotations

import logging
import sys
import threading

from tracker.core.pipeline_config import PipelineConfig
from tracker.core.pseudonym import Pseudonymizer
from tracker.errors import ConfigError
from tracker.heap import settle_heap
from tracker.kafka.broker import BrokerHandle, resolve
from tracker.kafka.topics import prepare_topics
from tracker.sentiment.scorer import SentimentScorer
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


def warm_up_in_background(scorer: SentimentScorer) -> threading.Thread:
    """Load the comment analyzers while Faust joins the group.

    They take ~0.3 s (a second on a busy core) and hold ~44 MiB. Loaded on first use, the
    first German comment after every start stalled its partition for that long. The
    scorer's lock makes a comment that arrives first wait for this load, not load twice.
    """
    thread = threading.Thread(target=scorer.warm_up, name="sentiment-warm-up", daemon=True)
    thread.start()
    return thread


def core_form() -> str:
    """How the pure logic runs, for the start-up line: at half speed from source, say so."""
    from tracker.core import FORM

    if FORM == "compiled":
        return "compiled (mypyc)"
    return "from Python source (`make compile` for ~2x the events per CPU-second)"


def run_worker(
    settings: Settings,
    pseudonyms: Pseudonymizer,
    handle: BrokerHandle | None = None,
) -> None:
    """Run until stopped; a broker this call started is stopped on the way out."""
    from tracker.stream.app import build_worker_app
    from tracker.stream.pipeline import WorkerState
    from tracker.stream.signals import worker_class

    owned = handle is None
    (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)
    handle = handle or resolve(settings)
    try:
        partitions = prepare_topics(settings, handle.bootstrap)
        scorer = SentimentScorer()
        warm_up_in_background(scorer)
        config = PipelineConfig.from_settings(settings, pseudonyms, scorer)
        app = build_worker_app(WorkerState(settings, config, partitions), handle.bootstrap)
        print(
            f"tracker worker: broker {handle.url}, topic {settings.topic} ({partitions} partitions),"
            f" metrics http://{settings.web_host}:{settings.web_port}/metrics,"
            f" core {core_form()}",
            file=sys.stderr,
            flush=True,
        )
        settle_heap()
        worker_class()(app, loglevel="INFO").execute_from_commandline()
    finally:
        if owned:
            handle.stop()
