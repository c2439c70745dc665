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

import argparse
import atexit
import base64
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

# Not `from kafka import ...`: mypy takes the repo's kafka/ folder (pom.xml) for that package.
from kafka.admin import KafkaAdminClient
from kafka.consumer import KafkaConsumer
from kafka.producer import KafkaProducer

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LIB_DIR = REPO_ROOT / ".cache" / "kafka" / "lib"
FETCH_HINT = "run scripts/fetch-kafka.sh (needs Maven and Maven Central) to download them"

_log = logging.getLogger(__name__)

_LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


class KafkaClusterError(RuntimeError):
    """The local Kafka cluster could not be set up, started or used."""


@dataclass(frozen=True)
class PartitionInfo:
    """One partition as a broker's metadata answer describes it."""

    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


@dataclass(frozen=True)
class BrokerMetadata:
    """One broker's own answer to a Metadata request (its metadata cache)."""

    brokers: frozenset[int]  # live (unfenced) brokers
    topics: Mapping[str, Mapping[int, PartitionInfo]]  # only topics without error


@dataclass
class _Node:
    node_id: int
    port: int
    controller_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    output: IO[bytes] | None = field(default=None, repr=False)

    @property
    def config_file(self) -> Path:
        return self.directory / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def stdout_file(self) -> Path:
        return self.directory / "stdout.log"

    @property
    def server_log(self) -> Path:
        return self.directory / "server.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


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
        self.cluster_id = _random_cluster_id()
        ports = _free_ports(2 * brokers, reserved=broker_ports or ())
        fixed = list(broker_ports) if broker_ports is not None else ports[:brokers]
        self._nodes = [
            _Node(i, fixed[i], ports[brokers + i], self.workdir / f"node-{i}")
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

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """Write configs, format storage, start every node and wait until all answer."""
        if self._started:
            raise KafkaClusterError("cluster already started")
        java = _java()
        classpath = self._classpath()
        began = time.monotonic()
        self._prepare_workdir()
        self._format_storage(java, classpath)
        self._started = True
        atexit.register(self.stop)
        try:
            for node in self._nodes:
                self._spawn(node, java, classpath)
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
            self._close_output(node)

    def kill_broker(self, i: int) -> None:
        """SIGKILL node ``i`` (broker and its controller) and wait until it is gone."""
        node = self._node(i)
        if not node.running() or node.process is None:
            raise KafkaClusterError(f"broker {i} is not running")
        node.process.kill()
        node.process.wait()
        self._close_output(node)

    def start_broker(self, i: int, timeout: float | None = None) -> None:
        """Restart node ``i`` on its old ports and storage; wait until the cluster sees it."""
        node = self._node(i)
        if not self._started:
            raise KafkaClusterError("start the cluster first")
        if node.running():
            raise KafkaClusterError(f"broker {i} is already running")
        self._spawn(node, _java(), self._classpath())
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
                self._check_alive(node)
                expected = {n.node_id for n in self._nodes if n.running()}
                answer = fetch_metadata(node.port)
                seen = answer.brokers if answer is not None else frozenset()
                if expected <= seen:
                    break
                if time.monotonic() > deadline:
                    raise KafkaClusterError(
                        f"broker {i} not ready after {limit:.0f}s "
                        f"(it sees live brokers {sorted(seen)}, expected {sorted(expected)}); "
                        f"see {node.server_log}\n{_tail(node.server_log)}"
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

    def _node(self, i: int) -> _Node:
        if not 0 <= i < self.brokers:
            raise IndexError(f"no broker {i} in a {self.brokers}-node cluster")
        return self._nodes[i]

    def _classpath(self) -> str:
        if not any(self.lib_dir.glob("kafka_2.13-*.jar")) or not any(
            self.lib_dir.glob(".complete-*")
        ):
            raise KafkaClusterError(f"Apache Kafka jars not found in {self.lib_dir}: {FETCH_HINT}")
        return str(self.lib_dir / "*")

    def _prepare_workdir(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "log4j2.properties").write_text(_LOG4J2)
        quorum = self._nodes[: min(3, self.brokers)]
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in quorum)
        for node in self._nodes:
            if node.directory.exists():  # left over from an earlier run in this workdir
                shutil.rmtree(node.directory)
            node.directory.mkdir(parents=True)
            settings = self._server_properties(node, voters)
            node.config_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))

    def _server_properties(self, node: _Node, voters: str) -> dict[str, str]:
        rf = str(self.replication_factor)
        isr = str(self.min_insync_replicas)
        roles = "broker,controller" if node.node_id < 3 else "broker"
        listeners = f"PLAINTEXT://{node.address}"
        if roles != "broker":
            listeners += f",CONTROLLER://127.0.0.1:{node.controller_port}"
        settings = {
            "process.roles": roles,
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "controller.listener.names": "CONTROLLER",
            "listeners": listeners,
            "advertised.listeners": f"PLAINTEXT://{node.address}",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(node.data_dir),
            # Replication: survive one dead node with 3 (acks=all still writes to 2).
            "default.replication.factor": rf,
            "min.insync.replicas": isr,
            "offsets.topic.replication.factor": rf,
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": isr,
            "share.coordinator.state.topic.replication.factor": rf,
            "share.coordinator.state.topic.min.isr": isr,
            "num.partitions": "1",
            # Speed: small internal topics, no join delay, quick failure detection.
            "offsets.topic.num.partitions": "5",
            "transaction.state.log.num.partitions": "5",
            "group.initial.rebalance.delay.ms": "0",
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "4000",
            "controller.quorum.append.linger.ms": "5",
            "log.initial.task.delay.ms": "1000",
            # Compaction works on small test data: 1 MiB segments (the minimum),
            # a cleaner that looks every second, and a small dedupe buffer.
            "log.segment.bytes": "1048576",
            "log.cleaner.enable": "true",
            "log.cleaner.backoff.ms": "1000",
            "log.cleaner.threads": "1",
            "log.cleaner.dedupe.buffer.size": "16777216",
            # Fewer threads on a small machine.
            "num.network.threads": "2",
            "num.io.threads": "4",
            "background.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
            "num.replica.fetchers": "1",
        }
        settings.update(self.extra_config)
        return settings

    def _format_storage(self, java: str, classpath: str) -> None:
        procs = [
            (
                node,
                subprocess.Popen(
                    [
                        java,
                        "-Xmx256m",
                        "-XX:TieredStopAtLevel=1",
                        "-XX:+UseSerialGC",
                        f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}",
                        f"-Dkafka.logs.dir={node.directory}",
                        "-cp",
                        classpath,
                        "kafka.tools.StorageTool",
                        "format",
                        "--cluster-id",
                        self.cluster_id,
                        "--config",
                        str(node.config_file),
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                ),
            )
            for node in self._nodes
        ]
        failures = []
        for node, proc in procs:
            out, _ = proc.communicate(timeout=120)
            if proc.returncode != 0:
                failures.append(f"node {node.node_id}: {out.decode(errors='replace')}")
        if failures:
            raise KafkaClusterError("kafka-storage format failed:\n" + "\n".join(failures))

    def _spawn(self, node: _Node, java: str, classpath: str) -> None:
        self._close_output(node)
        node.output = node.stdout_file.open("ab")
        node.process = subprocess.Popen(
            [
                java,
                f"-Xmx{self.heap_mb}m",
                "-Xms64m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-XX:-UsePerfData",
                "-XX:+ExitOnOutOfMemoryError",
                "-Djava.awt.headless=true",
                *self.jvm_options,
                f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}",
                f"-Dkafka.logs.dir={node.directory}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(node.config_file),
            ],
            stdin=subprocess.DEVNULL,
            stdout=node.output,
            stderr=subprocess.STDOUT,
            cwd=node.directory,
            start_new_session=True,  # Ctrl-C reaches pytest, which then stops us
            preexec_fn=_die_with_parent,
        )

    def _check_alive(self, node: _Node) -> None:
        if node.process is None:
            raise KafkaClusterError(f"broker {node.node_id} was never started")
        code = node.process.poll()
        if code is not None:
            raise KafkaClusterError(
                f"broker {node.node_id} exited with code {code}; see {node.server_log}\n"
                f"{_tail(node.stdout_file)}\n{_tail(node.server_log)}"
            )

    @staticmethod
    def _close_output(node: _Node) -> None:
        if node.output is not None:
            node.output.close()
            node.output = None


# ---------------------------------------------------------------------- helpers


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    if candidate is not None and candidate.is_file():
        return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise KafkaClusterError(
            "java not found: Kafka needs a JDK 17+ on PATH or in JAVA_HOME "
            "(apt-get install openjdk-17-jdk-headless)"
        )
    return found


def _random_cluster_id() -> str:
    """A Kafka ``Uuid`` string: 16 random bytes, URL-safe base64 without padding."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka's own generator avoids these too
            return text


def _free_ports(count: int, reserved: Sequence[int] = ()) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1, none of them in ``reserved``."""
    sockets: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
            if port not in reserved:
                ports.append(port)
    finally:
        for sock in sockets:
            sock.close()
    return ports


def fetch_metadata(
    port: int, topics: Sequence[str] = (), timeout: float = 2.0
) -> BrokerMetadata | None:
    """Ask the broker on 127.0.0.1:``port`` itself (not "any broker", as clients do)
    for metadata, with a plain Metadata v4 request; None if it does not answer.
    """
    body = struct.pack(">i", len(topics))
    for name in topics:
        body += _kafka_string(name)
    body += b"\x00"  # allow_auto_topic_creation = false
    client_id = _kafka_string("kafka-cluster-probe")
    request = struct.pack(">hhi", 3, 4, 1) + client_id + body  # api 3 = Metadata, v4
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(request)) + request)
            (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
            return _parse_metadata_v4(_recv_exactly(sock, size))
    except (OSError, struct.error, ValueError):
        return None


def _kafka_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ValueError("connection closed")
        chunks += chunk
    return bytes(chunks)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def string(self) -> str | None:
        length = self.take(">h")
        if length < 0:
            return None
        text = self.data[self.pos : self.pos + length].decode()
        self.pos += length
        return text

    def int32s(self) -> tuple[int, ...]:
        return tuple(self.take(">i") for _ in range(self.take(">i")))


def _parse_metadata_v4(data: bytes) -> BrokerMetadata:
    r = _Reader(data)
    r.take(">i")  # correlation id
    r.take(">i")  # throttle time
    brokers = set()
    for _ in range(r.take(">i")):
        brokers.add(r.take(">i"))
        r.string()  # host
        r.take(">i")  # port
        r.string()  # rack
    r.string()  # cluster id
    r.take(">i")  # controller id (a random live broker under KRaft)
    topics: dict[str, dict[int, PartitionInfo]] = {}
    for _ in range(r.take(">i")):
        topic_error = r.take(">h")
        name = r.string() or ""
        r.take(">b")  # is_internal
        partitions: dict[int, PartitionInfo] = {}
        for _ in range(r.take(">i")):
            partition_error = r.take(">h")
            index = r.take(">i")
            leader = r.take(">i")
            replicas, isr = r.int32s(), r.int32s()
            if partition_error == 0:
                partitions[index] = PartitionInfo(leader, replicas, isr)
        if topic_error == 0:
            topics[name] = partitions
    return BrokerMetadata(frozenset(brokers), topics)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"({path} not written)"
    return "\n".join(text.splitlines()[-lines:])


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the parent dies, so no broker outlives its test run.

    Linux only (prctl); elsewhere a no-op. Note that the signal follows the *thread*
    that started the node: start clusters from a thread that lives as long as they do.
    """
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


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
