"""A partition's rows in the Faust table, written to that partition's changelog."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from tracker.kafka.changelog_codec import Codec, is_packed, pack, unpack
from tracker.stream.pending import PendingWrites

# (partition, key, value or None for a tombstone) -> the producer's future for the record.
ChangelogSend = Callable[[int, bytes, bytes | None], Awaitable[Any]]


def changelog_send(table: Any) -> ChangelogSend:
    """Records of ``table``'s changelog, handed to the transport producer itself.

    Faust's ``Table.send_changelog`` wraps every record in a ``FutureMessage`` that its
    producer buffer's task sends later, with a callback that keeps offsets for on-disk
    stores (this table's store is in memory, which keeps none). That machinery cost
    22-67 µs more per record than the producer's own ``send`` (BENCHMARKS.md, the no-op
    agent's rows), and the worker writes one record or more per message. The worker
    runs Faust's default at-least-once guarantee, so there is no transaction to join.
    """
    topic = table.changelog_topic.get_topic_name()
    producer = table.app.producer

    async def send(partition: int, key: bytes, value: bytes | None) -> Any:
        return await producer.send(topic, key, value, partition, None, None)

    return send


class FaustStore:
    """A partition's view of the Faust table: writes go to that partition's changelog.

    The core writes synchronously; the records wait in ``outgoing`` until the async
    wiring calls ``write_out`` after each message and housekeeping, before it
    acknowledges the message, so a commit never covers a message whose rows are unsent
    (``stream.pending``). Records leave in the order they were written, also when two
    agents write out the same partition at once: changelog order is what a restore
    trusts. So a worker keeps one store per partition for its lifetime
    (``Pipeline._store``): a processor rebuilt after a rebalance queues behind what its
    predecessor wrote, and nothing written is ever dropped, as Faust's own producer
    buffer dropped nothing.

    The changelog gets each row packed (``codec``, see ``tracker/kafka/changelog_codec.py``);
    memory keeps it as JSON. A restore fills memory with what the changelog holds, so a
    packed row is unpacked, and kept so, the first time it is read. With codec ``none``
    it is also written back as JSON then: once every partition has been restored so,
    the changelog holds no packed row a release before the codec could not read.
    """

    def __init__(
        self,
        table: Any,
        partition: int,
        pending: PendingWrites | None = None,
        *,
        codec: Codec,
        send: ChangelogSend,
    ) -> None:
        self.table = table
        self.partition = partition
        self.pending = pending or PendingWrites()
        self.codec: Codec = codec
        self._send = send
        # Written, not yet handed to the producer: (key, record or None for a tombstone).
        self.outgoing: list[tuple[bytes, bytes | None]] = []
        self._writing = asyncio.Lock()
        # The newest record handed to the producer: identity records it caused wait for it
        # (stream.identity).
        self.last_write: Any = None
        store = table.data
        self._rows: dict[bytes, bytes] = store.data
        # Faust's memory store drops keys of lost partitions by this map on recovery.
        self._key_partition: dict[bytes, int] = store._key_partition

    def get(self, key: str) -> bytes | None:
        raw = key.encode()
        value = self._rows.get(raw)
        if value is not None and is_packed(value):
            value = self._unpacked(raw, value)
        return value

    def put(self, key: str, value: bytes) -> None:
        raw = key.encode()
        self.outgoing.append((raw, pack(value, self.codec)))
        # A right-sized copy: orjson.dumps returns bytes in a buffer of at least 4 KiB
        # (orjson >= 3.12, not shrunk), ~5 KiB held per customer instead of ~1 KiB.
        self._rows[raw] = bytes(memoryview(value))
        self._key_partition[raw] = self.partition

    def hold(self, key: str, value: bytes) -> None:
        """In memory only; the changelog keeps the row as written (core/epoch_writes.py)."""
        self._rows[key.encode()] = value

    def delete(self, key: str) -> None:
        raw = key.encode()
        self._rows.pop(raw, None)
        self._key_partition.pop(raw, None)
        self.outgoing.append((raw, None))

    def items(self, prefix: str) -> Iterable[tuple[str, bytes]]:
        head = prefix.encode()
        found: list[tuple[str, bytes]] = []
        for raw, value in list(self._rows.items()):
            if raw.startswith(head):
                if is_packed(value):
                    value = self._unpacked(raw, value)
                found.append((raw.decode(), value))
        return found

    async def write_out(self) -> None:
        """Hand every record written so far to the producer, in order.

        When it returns, every record queued before the call has been handed over (by
        this call or one it waited for), and ``last_write`` is at or after the last of
        them. A send that raises leaves the records from it on in ``outgoing``, in order,
        for the next call, and raises: the caller pauses the partition (or leaves the
        message unacknowledged), so no offset of a message whose rows are unsent is
        committed.
        """
        async with self._writing:  # a second caller's records follow this one's
            records, self.outgoing = self.outgoing, []
            for at, (key, value) in enumerate(records):
                try:
                    sent = await self._send(self.partition, key, value)
                except BaseException:
                    self.outgoing[:0] = records[at:]
                    raise
                self.pending.track(sent)
                self.last_write = sent

    def _unpacked(self, raw: bytes, packed: bytes) -> bytes:
        row = self._rows[raw] = unpack(packed)
        if self.codec == "none":  # the same row, readable by releases before the codec
            self.outgoing.append((raw, row))
        return row


async def write_out(store: object) -> None:
    """``FaustStore.write_out`` of a processor's store; other stores (tests, tools) write
    synchronously."""
    if isinstance(store, FaustStore):
        await store.write_out()
