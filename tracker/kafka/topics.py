"""The topics the tracker reads and writes, their names and how they are created.

Names are public: operators' scripts and ``tracker inspect`` find the changelogs
by them, so they are built here once and imported by the Faust wiring and the tools.
"""

from __future__ import annotations

import logging

from tracker.kafka.broker import ensure_topics, topic_partitions
from tracker.settings import Settings

log = logging.getLogger("tracker.kafka")

TABLE = "tracker-state"
ACCOUNT_TABLE = "tracker-accounts"
# A message header that turns a record of the input topic into a command (``erase``).
CONTROL_HEADER = "tracker-control"
# A dead letter is the rejected message plus headers (reason detail up to 1,000 characters).
LETTER_HEADROOM_BYTES = 65_536


def activity_topic(worker_id: str) -> str:
    """The re-keyed stream of B2B account activity (an internal repartition topic)."""
    return f"{worker_id}-account-activity"


def changelog_topic(worker_id: str, table: str = TABLE) -> str:
    """Faust's changelog topic of a table: the durable copy of the workers' state."""
    return f"{worker_id}-{table}-changelog"


def prepare_topics(settings: Settings, bootstrap: str) -> int:
    """Create the topics the worker needs; returns the input topic's partition count."""
    connection = settings.kafka_connection(bootstrap)
    existing = topic_partitions(connection, settings.topic)
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
        connection,
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
            (changelog_topic(settings.worker_id), partitions, {"cleanup.policy": "compact"}),
            (
                changelog_topic(settings.worker_id, ACCOUNT_TABLE),
                partitions,
                {"cleanup.policy": "compact"},
            ),
            (activity_topic(settings.worker_id), partitions, {}),
            (f"{settings.worker_id}-__assignor-__leader", 1, {}),
        ],
        replication_factor=settings.replication_factor,
    )
    return partitions
