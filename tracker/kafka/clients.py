"""kafka-python clients for tooling (replay, loadgen, erase), configured from settings."""

from __future__ import annotations

from typing import Any

from tracker.settings import Settings


def client_options(settings: Settings) -> dict[str, Any]:
    """TLS/SASL options passed through to kafka-python (Faust gets the same in app.py)."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol.upper()}
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password
    if settings.kafka_ssl_cafile is not None:
        options["ssl_cafile"] = str(settings.kafka_ssl_cafile)
    return options


def producer(settings: Settings, bootstrap: str, **overrides: Any) -> Any:
    from kafka.producer import KafkaProducer

    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap.split(","),
        "acks": "all",
        "linger_ms": 5,
        "retries": 5,
        "max_in_flight_requests_per_connection": 1,  # keeps each customer's order on retries
        "max_request_size": 2 * 1024 * 1024,
        **client_options(settings),
    }
    options.update(overrides)
    return KafkaProducer(**options)
