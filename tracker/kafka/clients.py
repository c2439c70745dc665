"""kafka-python clients for tooling (replay, loadgen, erase), configured from one connection."""

from __future__ import annotations

from typing import Any

from tracker.kafka.connection import KafkaConnection


def producer(connection: KafkaConnection, **overrides: Any) -> Any:
    from kafka.producer import KafkaProducer

    options: dict[str, Any] = {
        "acks": "all",
        "linger_ms": 5,
        "retries": 5,
        "max_in_flight_requests_per_connection": 1,  # keeps each customer's order on retries
        "max_request_size": 2 * 1024 * 1024,
        **connection.kafka_python_options(),
    }
    options.update(overrides)
    return KafkaProducer(**options)
