"""``tracker send``: events from a script, validated against the contract, confirmed.

Unlike ``tracker replay`` (which sends a file as it is, malformed lines included, to
exercise the worker), ``send`` validates every event first and sends nothing if one
is invalid, then sends through ``tracker.producer`` and exits once the broker
acknowledged all of them.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import UTC, datetime
from typing import IO

import click
import orjson
from pydantic import ValidationError

from tracker.cli.base import broker_option, friendly_errors, main, settings_from
from tracker.core.contract import Event, parse_event
from tracker.settings import Settings


def read_events(lines: list[bytes], fill: bool, now: datetime) -> tuple[list[Event], list[str]]:
    """The events of JSON lines (an object, or an array of objects, per line), and the
    problems, one per bad line. ``fill``: a missing schema_version, event_id or
    occurred_at is filled (1, a random id, ``now``)."""
    events: list[Event] = []
    problems: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            decoded = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON: {exc}")
            continue
        for item in decoded if isinstance(decoded, list) else [decoded]:
            if fill and isinstance(item, dict):
                item = {
                    "schema_version": 1,
                    "event_id": str(uuid.uuid4()),
                    "occurred_at": now.isoformat(timespec="milliseconds"),
                    **item,
                }
            try:
                events.append(parse_event(item))
            except ValidationError as exc:
                first = exc.errors(include_url=False, include_input=False)[0]
                where = ".".join(str(p) for p in first["loc"]) or "event"
                problems.append(f"line {number}: {where}: {first['msg']}")
    return events, problems


async def _deliver(settings: Settings, bootstrap: str, events: list[Event]) -> tuple[int, int]:
    from tracker.producer import TrackerProducer

    async with TrackerProducer(settings, bootstrap) as producer:
        delivery = await producer.send(*events)
    return delivery.events, delivery.messages


@main.command()
@click.argument("source", type=click.File("rb"), default="-")
@broker_option
@click.option("--topic", default=None, help="input topic (default: TRACKER_TOPIC)")
@click.option(
    "--fill/--no-fill",
    default=True,
    show_default=True,
    help="fill a missing schema_version, event_id (random) and occurred_at (now)",
)
@friendly_errors
def send(source: IO[bytes], broker: str | None, topic: str | None, fill: bool) -> None:
    """Send events (JSON lines from SOURCE, or - for stdin); exit once acknowledged.

    Every event is validated first; if one is invalid, nothing is sent (exit 1).
    Give each event its own event_id to make a re-run count once.
    """
    from tracker.kafka.broker import resolve
    from tracker.kafka.topics import prepare_topics

    events, problems = read_events(source.read().splitlines(), fill, datetime.now(UTC))
    if problems:
        for problem in problems[:20]:
            click.echo(f"tracker send: {problem}", err=True)
        click.echo(f"tracker send: {len(problems)} invalid; nothing sent", err=True)
        sys.exit(1)
    settings = settings_from(broker, topic=topic)
    handle = resolve(settings, start=False)
    prepare_topics(settings, handle.bootstrap)
    sent, messages = asyncio.run(_deliver(settings, handle.bootstrap, events))
    click.echo(f"sent {sent} events in {messages} messages to {settings.topic} on {handle.url}")
