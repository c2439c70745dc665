"""``tracker replay``, ``loadgen`` and ``schema``: putting events on the input topic."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tracker.cli.base import broker_option, friendly_errors, main, settings_from


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

    settings = settings_from(broker, topic=topic)
    handle = resolve(settings, start=False)
    prepare_topics(settings, handle.bootstrap)
    lines = file.read_bytes().splitlines()
    kafka = producer(settings.kafka_connection(handle.bootstrap))
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

    settings = settings_from(broker)
    handle = resolve(settings, start=False)
    prepare_topics(settings, handle.bootstrap)
    sent = run_loadgen(settings, handle.bootstrap, rate, duration, batch, seed)
    click.echo(f"sent {sent} events")


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
