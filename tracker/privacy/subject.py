"""Beyond the customer's own row: what other state and topics hold about them.

``tracker inspect`` adds these to the row (``tracker.privacy.access``): each account
the person acted for, as the account stage holds it (does it still count them, and
since when), and the dead letters in the DLQ that are theirs.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson

from tracker.core.accounts import AccountState
from tracker.kafka.changelog import read_row
from tracker.kafka.connection import KafkaConnection
from tracker.kafka.dlq import read_letters
from tracker.kafka.partitioner import partition_for
from tracker.privacy.dead_letters import belongs_to


def account_memberships(
    connection: KafkaConnection, changelog: str, partitions: int, person: str, accounts: list[str]
) -> list[dict[str, Any]]:
    """For each account: whether the account stage still counts the person, and their time."""
    out = []
    for account in accounts:
        key = f"{partition_for(account.encode(), partitions)}/acct/{account}"
        raw = read_row(connection, changelog, partitions, key)
        body = orjson.loads(raw) if raw is not None else {}
        state = AccountState.decode(body["s"]) if body.get("s") is not None else None
        seen = state.people.get(person) if state is not None else None
        since = datetime.fromtimestamp(seen / 1000, UTC).isoformat() if seen is not None else None
        out.append(
            {"account": account, "counts_the_customer": seen is not None, "last_event": since}
        )
    return out


def letters_of(
    connection: KafkaConnection, dlq_topic: str, pseudonym: str, customer_id: str
) -> dict[str, Any]:
    """The customer's live letters in the DLQ, by reason (their content: tracker dlq inspect)."""
    theirs = [
        x for x in read_letters(connection, dlq_topic) if belongs_to(x, pseudonym, customer_id)
    ]
    return {
        "letters": len(theirs),
        "by_reason": dict(sorted(Counter(x.reason for x in theirs).items())),
        "note": "tracker dlq purge --customer ID removes them; tracker erase does too",
    }
