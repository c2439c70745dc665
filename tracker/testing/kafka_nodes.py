"""The nodes of the local Kafka cluster: configuration, storage format and JVM processes.

Everything here is about one node at a time; ``kafka_cluster.KafkaCluster``
decides which nodes exist and when they start and stop.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LIB_DIR = REPO_ROOT / ".cache" / "kafka" / "lib"
FETCH_HINT = "run scripts/fetch-kafka.sh (needs Maven and Maven Central) to download them"

LOG4J2 = """\
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


@dataclass
class KafkaNode:
    """One node of the local cluster: its ports, directory and (while running) JVM."""

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

    def close_output(self) -> None:
        if self.output is not None:
            self.output.close()
            self.output = None


def classpath(lib_dir: Path) -> str:
    """The JVM class path of the jars in ``lib_dir``, once scripts/fetch-kafka.sh completed."""
    if not any(lib_dir.glob("kafka_2.13-*.jar")) or not any(lib_dir.glob(".complete-*")):
        raise KafkaClusterError(f"Apache Kafka jars not found in {lib_dir}: {FETCH_HINT}")
    return str(lib_dir / "*")


def server_properties(
    node: KafkaNode,
    voters: str,
    replication_factor: int,
    min_insync_replicas: int,
    extra: Mapping[str, str],
) -> dict[str, str]:
    """server.properties of ``node``: combined broker+controller for the first three nodes."""
    rf = str(replication_factor)
    isr = str(min_insync_replicas)
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
    settings.update(extra)
    return settings


def format_storage(
    nodes: Sequence[KafkaNode], cluster_id: str, workdir: Path, java: str, classpath: str
) -> None:
    """``kafka-storage format`` every node's data directory for ``cluster_id``, in parallel."""
    procs = [
        (
            node,
            subprocess.Popen(
                [
                    java,
                    "-Xmx256m",
                    "-XX:TieredStopAtLevel=1",
                    "-XX:+UseSerialGC",
                    f"-Dlog4j2.configurationFile={workdir / 'log4j2.properties'}",
                    f"-Dkafka.logs.dir={node.directory}",
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "--cluster-id",
                    cluster_id,
                    "--config",
                    str(node.config_file),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            ),
        )
        for node in nodes
    ]
    failures = []
    for node, proc in procs:
        out, _ = proc.communicate(timeout=120)
        if proc.returncode != 0:
            failures.append(f"node {node.node_id}: {out.decode(errors='replace')}")
    if failures:
        raise KafkaClusterError("kafka-storage format failed:\n" + "\n".join(failures))


def spawn_node(
    node: KafkaNode,
    java: str,
    classpath: str,
    *,
    heap_mb: int,
    jvm_options: Sequence[str],
    workdir: Path,
) -> None:
    """Start the node's JVM; its output goes to ``stdout.log`` in the node's directory."""
    node.close_output()
    node.output = node.stdout_file.open("ab")
    node.process = subprocess.Popen(
        [
            java,
            f"-Xmx{heap_mb}m",
            "-Xms64m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-XX:-UsePerfData",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            *jvm_options,
            f"-Dlog4j2.configurationFile={workdir / 'log4j2.properties'}",
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
        preexec_fn=die_with_parent,
    )


def check_alive(node: KafkaNode) -> None:
    """Raise with the node's logs if it was never started or has exited."""
    if node.process is None:
        raise KafkaClusterError(f"broker {node.node_id} was never started")
    code = node.process.poll()
    if code is not None:
        raise KafkaClusterError(
            f"broker {node.node_id} exited with code {code}; see {node.server_log}\n"
            f"{tail(node.stdout_file)}\n{tail(node.server_log)}"
        )


def java() -> str:
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


def random_cluster_id() -> str:
    """A Kafka ``Uuid`` string: 16 random bytes, URL-safe base64 without padding."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka's own generator avoids these too
            return text


def free_ports(count: int, reserved: Sequence[int] = ()) -> list[int]:
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


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"({path} not written)"
    return "\n".join(text.splitlines()[-lines:])


def die_with_parent() -> None:
    """In the child: get SIGKILL when the parent dies, so no broker outlives its test run.

    Linux only (prctl); elsewhere a no-op. Note that the signal follows the *thread*
    that started the node: start clusters from a thread that lives as long as they do.
    """
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
