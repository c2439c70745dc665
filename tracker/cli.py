"""The ``tracker`` command."""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tracker.errors import TrackerError
from tracker.settings import Settings, load_settings, settings_table

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """A user-facing failure prints its message and exits 2, without a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TrackerError as exc:
            click.echo(f"tracker: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def _settings(broker: str | None = None, **overrides: Any) -> Settings:
    if broker:
        overrides["broker"] = broker
    return load_settings(**{k: v for k, v in overrides.items() if v is not None})


broker_option = click.option(
    "--broker", help="kafka://host:port[,…] (default: TRACKER_BROKER, else the local broker)"
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Real-time customer-touchpoint tracker: consented events in, journey KPIs out.

    Settings come from TRACKER_* environment variables (`tracker config` lists
    them). Without TRACKER_BROKER every command uses the local broker recorded
    in the data dir, starting one if none runs.
    """


@main.command()
@friendly_errors
def worker() -> None:
    """Run a stream worker: consume events, keep sessions, serve /metrics.

    Start several with the same TRACKER_WORKER_ID to share the partitions.
    Needs TRACKER_PSEUDONYM_KEY.
    """
    from tracker.stream.worker import pseudonymizer, run_worker

    settings = _settings()
    run_worker(settings, pseudonymizer(settings, ephemeral_ok=False))


@main.command()
@broker_option
@click.option(
    "--port", type=int, default=None, help="listen port (default: TRACKER_COLLECTOR_PORT)"
)
@friendly_errors
def collector(broker: str | None, port: int | None) -> None:
    """Run the HTTP collector: web pages POST events to /v1/events, it writes them to Kafka.

    Serves /tracker.js (the browser snippet), /healthz, /readyz and /metrics;
    the demo shop at /demo/ with TRACKER_COLLECTOR_DEMO=true. Scale it
    separately from the workers; it holds no state.
    """
    from tracker.collector import run_collector

    run_collector(_settings(broker, collector_port=port))


@main.command()
@click.option("--port", type=int, default=None, help="listen port (default: a free one)")
@friendly_errors
def broker(port: int | None) -> None:
    """Run the embedded local broker (Tansu, memory only) until Ctrl-C.

    Other commands started with the same TRACKER_DATA_DIR find and reuse it.
    """
    from tracker.kafka.broker import start_embedded, stop_on_signals

    settings = _settings()
    handle = start_embedded(settings.data_dir, port)
    stop_on_signals(handle)
    click.echo(f"local broker: {handle.url} (recorded in {settings.data_dir}/broker.json)")
    try:
        while handle.process is not None and handle.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@broker_option
@click.option("--topic", default=None, help="input topic (default: TRACKER_TOPIC)")
@click.option("--speed", type=float, default=None, help="N times the original pace")
@click.option(
    "--as-fast-as-possible", "fast", is_flag=True, help="send without waiting (the default)"
)
@friendly_errors
def replay(
    file: Path, broker: str | None, topic: str | None, speed: float | None, fast: bool
) -> None:
    """Send a JSON-lines file of events to the input topic; exit when all are acknowledged.

    Consecutive lines of one customer become one batch message keyed by the
    customer; record timestamps are the events' sent_at (else occurred_at).
    """
    from tracker.kafka import replay as replaying
    from tracker.kafka.broker import resolve
    from tracker.kafka.clients import producer
    from tracker.kafka.topics import prepare_topics

    settings = _settings(broker, topic=topic)
    handle = resolve(settings, start=False)
    prepare_topics(settings, handle.bootstrap)
    lines = file.read_bytes().splitlines()
    kafka = producer(settings, handle.bootstrap)
    try:
        with click.progressbar(length=len(lines), label="replaying", file=sys.stderr) as bar:
            sent = replaying.send(
                kafka,
                settings.topic,
                replaying.records(lines),
                speed=None if fast else speed,
                progress=bar,
            )
    finally:
        kafka.close()
    click.echo(f"sent {sent} events from {file} to {settings.topic} on {handle.url}")


@main.command()
@broker_option
@click.option("--rate", type=float, default=50.0, show_default=True, help="events per second")
@click.option("--duration", type=float, default=None, help="seconds to run (default: forever)")
@click.option("--batch", type=int, default=1, show_default=True, help="max events per message")
@click.option("--seed", type=int, default=None, help="random seed for a repeatable stream")
@friendly_errors
def loadgen(
    broker: str | None, rate: float, duration: float | None, batch: int, seed: int | None
) -> None:
    """Generate realistic live traffic (journeys, orders, feedback, bad input)."""
    from tracker.kafka.broker import resolve
    from tracker.kafka.topics import prepare_topics
    from tracker.testing.loadgen import run_loadgen

    settings = _settings(broker)
    handle = resolve(settings, start=False)
    prepare_topics(settings, handle.bootstrap)
    sent = run_loadgen(settings, handle.bootstrap, rate, duration, batch, seed)
    click.echo(f"sent {sent} events")


@main.command()
@click.option("--rate", type=float, default=40.0, show_default=True, help="events per second")
@friendly_errors
def demo(rate: float) -> None:
    """Broker + worker + traffic generator + live KPI summary, in one command."""
    from tracker.demo import run_demo

    run_demo(rate)


@main.group()
def schema() -> None:
    """The JSON Schemas generated from the contract models."""


@schema.command("export")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("schemas"))
def schema_export(out: Path) -> None:
    """Write schemas/event.v1.json and schemas/message.v1.json."""
    from tracker.core.schemas import write_schemas

    for path in write_schemas(out):
        click.echo(f"wrote {path}")


@main.command()
@click.argument("customer_id")
@click.option(
    "--reason", type=click.Choice(["request", "withdrawal"]), default="request", show_default=True
)
@broker_option
@friendly_errors
def erase(customer_id: str, reason: str, broker: str | None) -> None:
    """Erase everything held for a customer (a data-subject erasure request).

    Sends an erase command through the input topic, so the worker applies it
    in order with the customer's events and writes tombstones.
    """
    from tracker.kafka.broker import resolve
    from tracker.kafka.clients import producer
    from tracker.kafka.topics import CONTROL_HEADER

    settings = _settings(broker)
    handle = resolve(settings, start=False)
    kafka = producer(settings, handle.bootstrap)
    try:
        kafka.send(
            settings.topic,
            key=customer_id.encode(),
            value=json.dumps({"reason": reason}).encode(),
            headers=[(CONTROL_HEADER, b"erase")],
        ).get(timeout=30)
    finally:
        kafka.close()
    click.echo(f"erasure requested ({reason}); the worker owning the customer applies it")


@main.command()
@click.argument("customer_id")
@broker_option
@friendly_errors
def inspect(customer_id: str, broker: str | None) -> None:
    """Print what the tracker holds for a customer (a data-subject access request).

    Reads the customer's row from the state changelog; needs the workers'
    TRACKER_PSEUDONYM_KEY, TRACKER_WORKER_ID and TRACKER_TOPIC.
    """
    from tracker.core.labels import LabelSets
    from tracker.kafka.broker import resolve, topic_partitions
    from tracker.kafka.changelog import read_row
    from tracker.kafka.clients import client_options
    from tracker.kafka.topics import changelog_topic
    from tracker.privacy.access import customer_key, describe
    from tracker.stream.worker import pseudonymizer

    settings = _settings(broker)
    handle = resolve(settings, start=False)
    options = client_options(settings)
    partitions = topic_partitions(handle.bootstrap, settings.topic, options) or settings.partitions
    key = customer_key(customer_id, pseudonymizer(settings, ephemeral_ok=False), partitions)
    raw = read_row(handle.bootstrap, changelog_topic(settings.worker_id), partitions, key, options)
    labels = LabelSets.build(settings.touchpoints, settings.actions, settings.currencies, ())
    click.echo(json.dumps({"pseudonym_key": key, **describe(raw, labels)}, indent=2))


@main.command("config")
@click.option("--markdown", is_flag=True, help="as the README's Markdown table")
def show_config(markdown: bool) -> None:
    """List every TRACKER_* setting with its default and meaning."""
    if markdown:
        click.echo(markdown_settings_table())
        return
    for name, default, meaning in settings_table():
        click.echo(f"{name:34} {default!s:28} {meaning}")


def markdown_settings_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, default, meaning in settings_table():
        shown = f"`{default}`" if default else "unset"
        rows.append(f"| `{name}` | {shown} | {meaning} |")
    return "\n".join(rows)
