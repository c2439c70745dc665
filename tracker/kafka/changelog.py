"""Reading the state changelog with kafka-python: what a restarted worker would restore."""

from __future__ import annotations

from tracker.kafka.connection import KafkaConnection


def read_row(connection: KafkaConnection, topic: str, partitions: int, key: str) -> bytes | None:
    """The newest value of ``key`` in its changelog partition (None: nothing held)."""
    from kafka.consumer import KafkaConsumer
    from kafka.structs import TopicPartition

    partition = int(key.split("/", 1)[0])
    tp = TopicPartition(topic, partition)
    consumer = KafkaConsumer(**connection.kafka_python_options())
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
