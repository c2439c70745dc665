"""Reading the state changelog with kafka-python: what a restarted worker would restore."""

from __future__ import annotations

from typing import Any

from tracker.kafka.changelog_codec import unpack
from tracker.kafka.connection import KafkaConnection
from tracker.kafka.reading import read_to_end


def read_row(connection: KafkaConnection, topic: str, partitions: int, key: str) -> bytes | None:
    """The newest value of ``key`` in its changelog partition, as JSON (None: nothing held)."""
    from kafka.consumer import KafkaConsumer
    from kafka.structs import TopicPartition

    partition = int(key.split("/", 1)[0])
    tp = TopicPartition(topic, partition)
    consumer = KafkaConsumer(enable_auto_commit=False, **connection.kafka_python_options())
    wanted = key.encode()
    found: list[bytes | None] = [None]

    def keep(record: Any) -> None:
        if record.key == wanted:
            found[0] = record.value  # a tombstone (None) forgets earlier values

    try:
        consumer.assign([tp])
        read_to_end(consumer, [tp], keep)
        return None if found[0] is None else unpack(found[0])
    finally:
        consumer.close()
