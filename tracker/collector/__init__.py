"""The HTTP collector: web pages post events, the collector puts them into Kafka.

``build_collector_app`` wires the aiohttp application around an injectable producer
(a fake one in unit tests, ``KafkaSink`` in production); ``run_collector``
is what ``tracker collector`` runs. No Faust here: the collector scales
separately from the workers and only needs a Kafka producer.
"""

from tracker.collector.app import build_collector_app, server_options
from tracker.collector.errors import CollectorError, SinkUnavailableError
from tracker.collector.intake import Message
from tracker.collector.run import run_collector

__all__ = [
    "CollectorError",
    "Message",
    "SinkUnavailableError",
    "build_collector_app",
    "run_collector",
    "server_options",
]
