"""``tracker erase`` and ``inspect``: data-subject requests."""

from __future__ import annotations

import json

import click

from tracker.cli.base import broker_option, friendly_errors, main, settings_from


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
    in order with the customer's events and writes tombstones (its changelog rows,
    its accounts, its dead letters); then tombstones the DLQ letters that carry the
    customer's id (PRIVACY.md#erasure).
    """
    from tracker.cli.dlq import purge_customer
    from tracker.kafka.broker import resolve
    from tracker.kafka.clients import producer
    from tracker.kafka.topics import CONTROL_HEADER

    settings = settings_from(broker)
    handle = resolve(settings, start=False)
    kafka = producer(settings.kafka_connection(handle.bootstrap))
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
    removed = purge_customer(settings, customer_id)
    click.echo(f"{removed} dead letters of the customer tombstoned in {settings.dlq_topic}")


@main.command()
@click.argument("customer_id")
@broker_option
@friendly_errors
def inspect(customer_id: str, broker: str | None) -> None:
    """Print what the tracker holds for a customer (a data-subject access request).

    Reads the customer's row from the state changelog, the rows of the accounts
    they acted for and their dead letters, as JSON: every kind of state PRIVACY.md
    lists. Needs the workers' TRACKER_PSEUDONYM_KEY, TRACKER_WORKER_ID and TRACKER_TOPIC.
    """
    from tracker.core.labels import LabelSets
    from tracker.kafka.broker import resolve, topic_partitions
    from tracker.kafka.changelog import read_row
    from tracker.kafka.topics import ACCOUNT_TABLE, changelog_topic
    from tracker.privacy.access import customer_key, describe, linked_rows
    from tracker.privacy.subject import account_memberships, letters_of
    from tracker.stream.worker import pseudonymizer

    settings = settings_from(broker)
    handle = resolve(settings, start=False)
    connection = settings.kafka_connection(handle.bootstrap)
    partitions = topic_partitions(connection, settings.topic) or settings.partitions
    key = customer_key(customer_id, pseudonymizer(settings, ephemeral_ok=False), partitions)
    raw = read_row(connection, changelog_topic(settings.worker_id), partitions, key)
    labels = LabelSets.build(settings.touchpoints, settings.actions, settings.currencies, ())
    answer = {"pseudonym_key": key, **describe(raw, labels)}
    linked = [
        {"pseudonym": pseudonym, "status": status, **describe(read_row(*where, row), labels)}
        for pseudonym, row, status in linked_rows(raw)
        for where in [(connection, changelog_topic(settings.worker_id), partitions)]
    ]
    if linked:  # the devices linked to the customer: their data moved here, their rows remain
        answer["linked_anonymous_ids"] = linked
    person = pseudonymizer(settings, ephemeral_ok=False).of(customer_id)
    accounts = [x["account"] for x in answer.get("accounts", [])]
    if accounts:  # as the account stage holds them: does each still count the person?
        changelog = changelog_topic(settings.worker_id, ACCOUNT_TABLE)
        answer["accounts"] = account_memberships(
            connection, changelog, partitions, person, accounts
        )
    answer["dead_letters_in_dlq"] = letters_of(connection, settings.dlq_topic, person, customer_id)
    click.echo(json.dumps(answer, indent=2))
