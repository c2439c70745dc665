"""A real Apache Kafka 4.x (KRaft) cluster on 127.0.0.1 for integration tests, no Docker.

Each node runs in combined mode (``process.roles=broker,controller``) as its own
JVM, started from the jars that ``scripts/fetch-kafka.sh`` puts in
``.cache/kafka/lib``::

    with KafkaCluster(tmp_path, brokers=3) as cluster:
        cluster.create_topic("touchpoint-events", partitions=4)
        producer = KafkaProducer(bootstrap_servers=cluster.bootstrap)
        cluster.kill_broker(0)       # SIGKILL
        cluster.start_broker(0)      # same node id, same storage

Run by hand (prints the bootstrap address, Ctrl-C stops it)::

    python -m tracker.testing.kafka_cluster --brokers 3 --port 9092

Missing jars or Java raise :class:`KafkaClusterError` with the fix: tests that need
this cluster fail loudly, they never skip.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

# Not `from kafka import ...`: mypy takes the repo's kafka/ folder (pom.xml) for that package.
from kafka.admin import KafkaAdminClient
from kafka.consumer import KafkaConsumer
from kafka.producer import KafkaProducer

from tracker.testing.kafka_metadata import BrokerMetadata, PartitionInfo, fetch_metadata
from tracker.testing.kafka_nodes import (
    DEFAULT_LIB_DIR,
    LOG4J2,
    KafkaClusterError,
    KafkaNode,
    check_alive,
    classpath,
    format_storage,
    free_ports,
    java,
    random_cluster_id,
    server_properties,
    spawn_node,
    tail,
)

__all__ = [
    "BrokerMetadata",
    "KafkaCluster",
    "KafkaClusterError",
    "PartitionInfo",
    "fetch_metadata",
]

_log = logging.getLogger(__name__)


class KafkaCluster:
    """``brokers`` combined broker+controller KRaft nodes on free 127.0.0.1 ports.

    With 3 or more nodes the first 3 are the controller quorum's voters (so any one
    node can die; nodes after the third are broker-only), topics default to
    replication factor 3 with ``min.insync.replicas=2``, and so do the
    consumer-offsets and transaction-state topics. With fewer nodes every
    replication factor is the node count and ``min.insync.replicas`` is 1.

    ``workdir`` gets ``node-<i>/`` per node (``server.properties``, ``data/``,
    ``server.log``, ``stdout.log``); node dirs left there by an earlier run are wiped.
    ``lib_dir`` defaults to ``$KAFKA_LIB_DIR`` or ``.cache/kafka/lib``.
    ``broker_ports`` fixes the client ports (default: free ones), ``heap_mb`` the heap
    per node (512 for one node, else 384), ``extra_config`` overrides or adds
    server.properties settings, and ``jvm_options`` go after the defaults (so
    ``-XX:TieredStopAtLevel=4`` brings back the C2 JIT for benchmarks, at ~0.4 s
    more start-up for one node and ~2 s for three).
    """

    def __init__(
        self,
        workdir: Path,
        brokers: int = 1,
        *,
        lib_dir: Path | None = None,
        broker_ports: Sequence[int] | None = None,
        heap_mb: int | None = None,
        startup_timeout: float = 60.0,
        extra_config: Mapping[str, str] | None = None,
        jvm_options: Sequence[str] = (),
    ) -> None:
        if brokers < 1:
            raise ValueError("a cluster needs at least one broker")
        if broker_ports is not None and len(broker_ports) != brokers:
            raise ValueError(f"broker_ports needs {brokers} ports, got {len(broker_ports)}")
        self.workdir = Path(workdir).resolve()
        self.brokers = brokers
        self.lib_dir = Path(lib_dir or os.environ.get("KAFKA_LIB_DIR") or DEFAULT_LIB_DIR)
        self.heap_mb = heap_mb or (512 if brokers == 1 else 384)
        self.startup_timeout = startup_timeout
        self.extra_config = dict(extra_config or {})
        self.jvm_options = list(jvm_options)
        self.replication_factor = min(3, brokers)
        self.min_insync_replicas = 2 if brokers >= 3 else 1
        self.cluster_id = random_cluster_id()
        ports = free_ports(2 * brokers, reserved=broker_ports or ())
        fixed = list(broker_ports) if broker_ports is not None else ports[:brokers]
        self._nodes = [
            KafkaNode(i, fixed[i], ports[brokers + i], self.workdir / f"node-{i}")
            for i in range(brokers)
        ]
        self._started = False

    # ------------------------------------------------------------------ addresses

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:p1,127.0.0.1:p2,...``: for kafka-python, aiokafka, Kafka tools."""
        return ",".join(node.address for node in self._nodes)

    @property
    def url(self) -> str:
        """``kafka://127.0.0.1:p1,...``: the form of ``TRACKER_BROKER`` and Faust's broker."""
        return "kafka://" + self.bootstrap

    def broker_address(self, i: int) -> str:
        return self._node(i).address

    def log_file(self, i: int) -> Path:
        """The broker's own log (log4j); ``stdout.log`` beside it has the JVM's output."""
        return self._node(i).server_log

    def is_running(self, i: int) -> bool:
        return self._node(i).running()

    def pids(self) -> tuple[int, ...]:
        """Process ids of the nodes' JVMs that were started (for resource measurements)."""
        return tuple(n.process.pid for n in self._nodes if n.process is not None)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """Write configs, format storage, start every node and wait until all answer."""
        if self._started:
            raise KafkaClusterError("cluster already started")
        java_path = java()
        class_path = self._classpath()
        began = time.monotonic()
        self._prepare_workdir()
        format_storage(self._nodes, self.cluster_id, self.workdir, java_path, class_path)
        self._started = True
        atexit.register(self.stop)
        try:
            for node in self._nodes:
                self._spawn(node, java_path, class_path)
            self.wait_ready(range(self.brokers))
        except BaseException:
            self.stop()
            raise
        _log.info(
            "Kafka cluster of %d node(s) ready at %s in %.1fs",
            self.brokers,
            self.bootstrap,
            time.monotonic() - began,
        )
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every node (controlled shutdown), SIGKILL whatever is left after ``timeout``."""
        atexit.unregister(self.stop)
        for node in self._nodes:
            if node.running() and node.process is not None:
                node.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for node in self._nodes:
            if node.process is not None:
                try:
                    node.process.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait()
            node.close_output()

    def kill_broker(self, i: int) -> None:
        """SIGKILL node ``i`` (broker and its controller) and wait until it is gone."""
        node = self._node(i)
        if not node.running() or node.process is None:
            raise KafkaClusterError(f"broker {i} is not running")
        node.process.kill()
        node.process.wait()
        node.close_output()

    def start_broker(self, i: int, timeout: float | None = None) -> None:
        """Restart node ``i`` on its old ports and storage; wait until the cluster sees it."""
        node = self._node(i)
        if not self._started:
            raise KafkaClusterError("start the cluster first")
        if node.running():
            raise KafkaClusterError(f"broker {i} is already running")
        self._spawn(node, java(), self._classpath())
        self.wait_ready([i], timeout=timeout)

    def wait_ready(self, nodes: Iterable[int], timeout: float | None = None) -> None:
        """Wait until each of ``nodes`` answers a metadata request itself, listing every
        running node as a live (unfenced) broker.

        Only running nodes are expected in the answer, so this also works while some
        other node is killed.
        """
        limit = self.startup_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        for i in nodes:
            node = self._node(i)
            while True:
                check_alive(node)
                expected = {n.node_id for n in self._nodes if n.running()}
                answer = fetch_metadata(node.port)
                seen = answer.brokers if answer is not None else frozenset()
                if expected <= seen:
                    break
                if time.monotonic() > deadline:
                    raise KafkaClusterError(
                        f"broker {i} not ready after {limit:.0f}s "
                        f"(it sees live brokers {sorted(seen)}, expected {sorted(expected)}); "
                        f"see {node.server_log}\n{tail(node.server_log)}"
                    )
                time.sleep(0.2)

    def __enter__(self) -> Self:
        if not self._started:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ topics

    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        compacted: bool = False,
        *,
        replication_factor: int | None = None,
        config: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        """Create a topic and wait until every partition has a leader.

        ``compacted`` topics also roll segments every second and clean at 1% dirty, so
        the log cleaner really compacts them within a test (``config`` overrides).
        """
        configs = dict(config or {})
        if compacted:
            configs.setdefault("cleanup.policy", "compact")
            configs.setdefault("segment.ms", "1000")
            configs.setdefault("min.cleanable.dirty.ratio", "0.01")
        spec = {
            name: {
                "num_partitions": partitions,
                "replication_factor": replication_factor or self.replication_factor,
                "configs": configs,
            }
        }
        with self.admin() as admin:
            admin.create_topics(spec, timeout_ms=int(timeout * 1000))
        self.wait_for_topic(name, partitions, timeout=timeout)

    def wait_for_topic(self, name: str, partitions: int, timeout: float = 30.0) -> None:
        """Wait until every running broker's metadata has ``partitions`` led partitions.

        Brokers learn of a new topic one by one; a client asking a late one gets
        UnknownTopicOrPartition.
        """
        deadline = time.monotonic() + timeout
        for node in self._nodes:
            while node.running():
                answer = fetch_metadata(node.port, [name])
                led = answer.topics.get(name, {}) if answer is not None else {}
                if len(led) >= partitions and all(p.leader >= 0 for p in led.values()):
                    break
                if time.monotonic() > deadline:
                    raise KafkaClusterError(
                        f"topic {name!r} not ready on broker {node.node_id} after {timeout:.0f}s"
                    )
                time.sleep(0.1)

    def describe_topic(self, topic: str, broker: int | None = None) -> Mapping[int, PartitionInfo]:
        """Leader, replicas and ISR of each partition, as one broker (default: the
        first running one) sees them; empty if it does not know the topic.
        """
        if broker is None:
            broker = next(n.node_id for n in self._nodes if n.running())
        answer = fetch_metadata(self._node(broker).port, [topic])
        if answer is None:
            raise KafkaClusterError(f"broker {broker} did not answer a metadata request")
        return answer.topics.get(topic, {})

    def producer(self, **configs: Any) -> Any:
        """A kafka-python ``KafkaProducer`` on this cluster (the caller closes it)."""
        return KafkaProducer(bootstrap_servers=self.bootstrap, **configs)

    def consumer(self, *topics: str, **configs: Any) -> Any:
        """A kafka-python ``KafkaConsumer`` on this cluster (the caller closes it)."""
        return KafkaConsumer(*topics, bootstrap_servers=self.bootstrap, **configs)

    @contextlib.contextmanager
    def admin(self, **configs: Any) -> Iterator[Any]:
        """A kafka-python ``KafkaAdminClient`` on this cluster, closed on exit."""
        client = KafkaAdminClient(
            **{"bootstrap_servers": self.bootstrap, "request_timeout_ms": 15000, **configs}
        )
        try:
            yield client
        finally:
            client.close()

    # ------------------------------------------------------------------ internals

    def _node(self, i: int) -> KafkaNode:
        if not 0 <= i < self.brokers:
            raise IndexError(f"no broker {i} in a {self.brokers}-node cluster")
        return self._nodes[i]

    def _classpath(self) -> str:
        return classpath(self.lib_dir)

    def _prepare_workdir(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "log4j2.properties").write_text(LOG4J2)
        quorum = self._nodes[: min(3, self.brokers)]
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in quorum)
        for node in self._nodes:
            if node.directory.exists():  # left over from an earlier run in this workdir
                shutil.rmtree(node.directory)
            node.directory.mkdir(parents=True)
            settings = server_properties(
                node, voters, self.replication_factor, self.min_insync_replicas, self.extra_config
            )
            node.config_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))

    def _spawn(self, node: KafkaNode, java_path: str, class_path: str) -> None:
        spawn_node(
            node,
            java_path,
            class_path,
            heap_mb=self.heap_mb,
            jvm_options=self.jvm_options,
            workdir=self.workdir,
        )


if __name__ == "__main__":  # python -m tracker.testing.kafka_cluster
    from tracker.testing.kafka_cluster_cli import main

    sys.exit(main())
