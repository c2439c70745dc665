"""The broker a benchmark runs against: Apache Kafka 4.x (KRaft, one node) or embedded Tansu.

Apache Kafka is the default: it is what production runs. Tansu (the
zero-setup local broker) answers a fetch only after its long-poll wait even
when data arrived meanwhile, which puts up to the worker's fetch wait
(``TRACKER_FETCH_MAX_WAIT``; Faust's own 1.5 s when measured) into every
produce-to-metrics latency; it is still useful for throughput comparisons
(``--broker tansu``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from tracker.kafka.broker import start_embedded


@dataclass(frozen=True, slots=True)
class RunningBroker:
    kind: str
    bootstrap: str
    pids: tuple[int, ...]
    version: str

    def processes(self) -> list[psutil.Process]:
        return [psutil.Process(pid) for pid in self.pids]


@contextlib.contextmanager
def running(kind: str, root: Path) -> Iterator[RunningBroker]:
    if kind == "tansu":
        handle = start_embedded(root / "tansu")
        try:
            assert handle.process is not None
            yield RunningBroker("tansu", handle.bootstrap, (handle.process.pid,), "Tansu 0.6")
        finally:
            handle.stop()
        return
    if kind != "kafka":
        raise ValueError(f"unknown broker {kind!r}: kafka or tansu")
    from tracker.testing.kafka_cluster import KafkaCluster

    cluster = KafkaCluster(root / "kafka", brokers=1, heap_mb=1024)
    with cluster:
        pids = cluster.pids()
        yield RunningBroker("kafka", cluster.bootstrap, pids, _kafka_version(cluster.lib_dir))


def _kafka_version(lib: Path) -> str:
    for jar in sorted(lib.glob("kafka_2.13-*.jar")):
        return "Apache Kafka " + jar.stem.removeprefix("kafka_2.13-")
    return "Apache Kafka"
