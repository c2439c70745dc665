"""Run the local Apache Kafka cluster in the foreground until Ctrl-C.

    python -m tracker.testing.kafka_cluster --brokers 3 --port 9092 --topic events:4

(``python -m tracker.testing.kafka_cluster`` runs the same.) Prints the
bootstrap address and ``TRACKER_BROKER`` to use; stops the cluster when a
broker exits.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tracker.testing.kafka_cluster import KafkaCluster
from tracker.testing.kafka_nodes import REPO_ROOT

_log = logging.getLogger("tracker.testing.kafka_cluster")


def main(argv: Sequence[str] | None = None) -> int:
    """Run a cluster in the foreground until Ctrl-C (``python -m tracker.testing.kafka_cluster``)."""
    parser = argparse.ArgumentParser(description="Run a local Apache Kafka (KRaft) cluster.")
    parser.add_argument("--brokers", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / ".cache" / "kafka" / "run")
    parser.add_argument(
        "--port", type=int, default=None, help="first broker port (then +1, +2...); default: free"
    )
    parser.add_argument("--topic", action="append", default=[], help="NAME[:PARTITIONS]")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    _log.setLevel(logging.INFO)
    stopping: list[int] = []

    def request_stop(signum: int, _frame: object) -> None:
        stopping.append(signum)

    # Explicit handlers: a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    ports = [args.port + i for i in range(args.brokers)] if args.port else None
    began = time.monotonic()
    with KafkaCluster(args.workdir, args.brokers, broker_ports=ports) as cluster:
        for spec in args.topic:
            name, _, count = spec.partition(":")
            cluster.create_topic(name, int(count or 1))
        print(f"Kafka ready in {time.monotonic() - began:.1f}s", flush=True)
        print(f"bootstrap:  {cluster.bootstrap}", flush=True)
        print(f"TRACKER_BROKER={cluster.url}", flush=True)
        print(f"logs:       {cluster.workdir}/node-*/server.log (Ctrl-C stops)", flush=True)
        while not stopping:
            if not all(cluster.is_running(i) for i in range(cluster.brokers)):
                print("a broker exited; stopping the cluster", file=sys.stderr, flush=True)
                return 1
            time.sleep(0.5)
        print("stopping ...", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
