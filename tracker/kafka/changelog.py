"""Reading the state changelog with kafka-python: what a restarted worker would restore."""

from __future__ import annotations

from typing import Any


def read_row(
    bootstrap: str, topic: str, partitions: int, key: str, options: dict[str, Any]
) -> bytes | None:
    """The newest value of ``key`` in its changelog partition (None: nothing held)."""
    from kafka.consumer import KafkaConsumer
    from kafka.structs import TopicPartition

    partition = int(key.split("/", 1)[0])
    tp = TopicPartition(topic, partition)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), **options)
    try:
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        found: bytes | None = None
        wanted = key.encode()
        while consumer.position(tp) < end:
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    if record.key == wanted:
                        found = record.value  # a tombstone (None) forgets earlier values
        return found
    finally:
        consumer.close()
