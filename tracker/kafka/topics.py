"""The topics the tracker reads and writes, their names and how they are created.

Names are public: operators' scripts and ``tracker inspect`` find the changelogs
by them, so they are built here once and imported by the Faust wiring and the tools.
"""

from __future__ import annotations

import logging

from tracker.kafka.broker import ensure_topics, topic_partitions
from tracker.kafka.topic_configs import check_topic_configs
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


def identity_topic(worker_id: str) -> str:
    """Identity stitching's internal topic, co-partitioned with the input (docs/identity.md)."""
    return f"{worker_id}-identity"


def changelog_topic(worker_id: str, table: str = TABLE) -> str:
    """Faust's changelog topic of a table: the durable copy of the workers' state."""
    return f"{worker_id}-{table}-changelog"


def compacted(settings: Settings) -> dict[str, str]:
    """A compacted topic's config: a deleted or replaced row leaves the disks in bounded time.

    The active segment is never compacted; ``segment.ms`` rolls it, and
    ``max.compaction.lag.ms`` makes the cleaner compact what is older (PRIVACY.md).
    """
    return {
        "cleanup.policy": "compact",
        "max.compaction.lag.ms": _ms(settings.max_compaction_lag_hours),
        "segment.ms": _ms(settings.segment_hours),
    }


def tracker_topics(settings: Settings, partitions: int) -> list[tuple[str, int, dict[str, str]]]:
    """Every topic the tracker creates: (name, partitions, config). PRIVACY.md lists each."""
    internal = {"retention.ms": _ms(settings.internal_retention_hours)}
    return [
        (settings.topic, partitions, {}),
        (
            settings.dlq_topic,
            partitions,
            {
                **compacted(settings),
                # Compacted, for purges and erasures to tombstone letters; deleted by age too.
                "cleanup.policy": "compact,delete",
                "retention.ms": _ms(settings.dlq_retention_hours),
                # A letter of an accepted message near the size limit, with its headers.
                "max.message.bytes": str(settings.max_message_bytes + LETTER_HEADROOM_BYTES),
            },
        ),
        (changelog_topic(settings.worker_id), partitions, compacted(settings)),
        (changelog_topic(settings.worker_id, ACCOUNT_TABLE), partitions, compacted(settings)),
        (activity_topic(settings.worker_id), partitions, internal),
        # The input's partition count: partition p of both is applied by one processor.
        (identity_topic(settings.worker_id), partitions, internal),
        (f"{settings.worker_id}-__assignor-__leader", 1, {}),
    ]


def _ms(hours: float) -> str:
    return str(int(hours * 3_600_000))


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
    topics = tracker_topics(settings, partitions)
    ensure_topics(connection, topics, replication_factor=settings.replication_factor)
    check_topic_configs(connection, topics)
    return partitions
