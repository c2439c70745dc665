"""``tracker dlq``: what the dead-letter topic holds, re-sending it after a fix, purging a person."""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import datetime
from typing import Any

import click

from tracker.cli.base import broker_option, friendly_errors, main, settings_from
from tracker.errors import ConfigError

reason_option = click.option(
    "--reason", "reasons", multiple=True, help="only letters of this reason (repeatable)"
)
since_option = click.option("--since", help="only letters written at or after (ISO 8601, UTC)")
until_option = click.option("--until", help="only letters written before (ISO 8601, UTC)")


@main.group()
def dlq() -> None:
    """The dead-letter topic: inspect it, re-drive letters after a fix, purge a person.

    Letters are keyed by the customer's pseudonym; an event lands whole only if it
    claims analytics consent, a message whose consent could not be read as a
    digest (reason, source, size, SHA-256). See README, "Working with the DLQ".
    """


@dlq.command("inspect")
@reason_option
@since_option
@until_option
@click.option("--sample", default=5, show_default=True, help="letters to show")
@click.option("--show-raw", is_flag=True, help="show raw customer, order and account ids")
@click.option("--by", type=click.Choice(["hour", "day"]), default="hour", show_default=True)
@broker_option
@friendly_errors
def inspect_dlq(
    reasons: tuple[str, ...],
    since: str | None,
    until: str | None,
    sample: int,
    show_raw: bool,
    by: str,
    broker: str | None,
) -> None:
    """Count the letters by reason and by time, and show a few (raw ids masked)."""
    from tracker.privacy import dead_letters

    settings, letters = _letters(broker, reasons, since, until)
    report: dict[str, Any] = {
        "topic": settings.dlq_topic,
        **dead_letters.counts(letters, 3600 if by == "hour" else 86_400),
        "sample": [dead_letters.sample(x, show_raw) for x in letters[-sample:] if sample > 0],
    }
    if not show_raw:
        report["note"] = "raw ids are masked; --show-raw shows them"
    click.echo(json.dumps(report, indent=2))


@dlq.command()
@reason_option
@since_option
@until_option
@click.option("--limit", type=int, default=None, help="at most this many letters")
@click.option("--dry-run", is_flag=True, help="say what would be sent; send nothing")
@click.option("--quiet", is_flag=True, help="only the totals, not a line per letter")
@broker_option
@friendly_errors
def redrive(
    reasons: tuple[str, ...],
    since: str | None,
    until: str | None,
    limit: int | None,
    dry_run: bool,
    quiet: bool,
    broker: str | None,
) -> None:
    """Send the selected letters to the input topic again, after a fix.

    An event letter goes back keyed by its customer_id at its original time; a
    digest letter's message is read back from the input topic (while it keeps it)
    and checked against its SHA-256. Each letter sent is tombstoned; an event that
    arrives twice counts once (event ids are de-duplicated).
    """
    from tracker.kafka.dlq import redrive as send_again

    settings, letters = _letters(broker, reasons, since, until)
    letters = letters[:limit] if limit is not None else letters
    with click.progressbar(length=len(letters), label="re-driving", file=sys.stderr) as bar:
        outcomes = send_again(
            _connection(settings),
            settings.topic,
            settings.dlq_topic,
            letters,
            dry_run=dry_run,
            progress=bar.update,
        )
    if not quiet:
        for o in outcomes:
            where = f"{o.letter.partition}:{o.letter.offset}"
            click.echo(f"{where}\t{o.letter.reason}\t{o.status}\t{o.detail}")
    totals = Counter(o.status for o in outcomes)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(totals.items())) or "nothing"
    click.echo(f"{len(outcomes)} letters: {summary}")


@dlq.command()
@click.option("--customer", "customer_id", required=True, help="the customer's raw id")
@broker_option
@friendly_errors
def purge(customer_id: str, broker: str | None) -> None:
    """Remove a person's letters from the DLQ (part of an erasure, see PRIVACY.md).

    Tombstones every letter keyed by the customer's pseudonym, and every event
    letter that carries their id under another key.
    """
    settings = settings_from(broker)
    removed = purge_customer(settings, customer_id)
    click.echo(f"{removed} letters of the customer tombstoned in {settings.dlq_topic}")


def purge_customer(settings: Any, customer_id: str) -> int:
    """Tombstone the customer's letters; also what ``tracker erase`` runs."""
    from tracker.core.pseudonym import Pseudonymizer
    from tracker.kafka.dlq import read_letters, tombstone
    from tracker.privacy.dead_letters import belongs_to

    key = settings.resolved_pseudonym_key()
    # Without the key only letters carrying the raw id are found; the worker tombstones
    # those keyed by the pseudonym when it applies the erasure.
    pseudonym = Pseudonymizer(key).of(customer_id) if key and len(key) >= 16 else ""
    connection = _connection(settings)
    theirs = [
        x
        for x in read_letters(connection, settings.dlq_topic)
        if belongs_to(x, pseudonym, customer_id)
    ]
    return tombstone(connection, settings.dlq_topic, theirs)


def _letters(
    broker: str | None, reasons: tuple[str, ...], since: str | None, until: str | None
) -> tuple[Any, list[Any]]:
    from tracker.kafka.dlq import read_letters
    from tracker.privacy.dead_letters import select

    settings = settings_from(broker)
    letters = read_letters(_connection(settings), settings.dlq_topic)
    return settings, select(letters, reasons, _ms(since), _ms(until))


def _connection(settings: Any) -> Any:
    from tracker.kafka.broker import resolve

    return settings.kafka_connection(resolve(settings, start=False).bootstrap)


def _ms(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{text!r} is not an ISO 8601 time, e.g. 2026-05-04T09:00Z") from None
    if moment.tzinfo is None:
        raise ConfigError(f"{text!r} needs a time zone, e.g. 2026-05-04T09:00Z")
    return int(moment.timestamp() * 1000)
