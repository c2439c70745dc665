"""Ask one Kafka broker itself for metadata: a plain Metadata v4 request over a socket.

Clients ask "any broker" and may get another node's answer; waiting for a node
to be ready, or for a topic to reach every node, needs that node's own view.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


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
