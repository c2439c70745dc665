"""A partition's rows in the Faust table, written to that partition's changelog."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tracker.kafka.changelog_codec import Codec, is_packed, pack, unpack
from tracker.stream.changelog import ChangelogAppender, ChangelogPartition
from tracker.stream.pending import PendingWrites


class FaustStore:
    """A partition's view of the Faust table: writes go to that partition's changelog.

    The changelog gets each row packed (``codec``, see ``tracker/kafka/changelog_codec.py``);
    memory keeps it as JSON. A restore fills memory with what the changelog holds, so a
    packed row is unpacked, and kept so, the first time it is read. With codec ``none``
    it is also written back as JSON then: once every partition has been restored so,
    the changelog holds no packed row a release before the codec could not read.

    With an ``appender`` (the worker's) records go straight into the producer's batch
    (``tracker/stream/changelog.py``); without one, through ``table.send_changelog``.
    """

    def __init__(
        self,
        table: Any,
        partition: int,
        pending: PendingWrites | None = None,
        *,
        codec: Codec,
        appender: ChangelogAppender | None = None,
    ) -> None:
        self.table = table
        self.partition = partition
        self.pending = pending or PendingWrites()
        self.codec: Codec = codec
        self.changelog: ChangelogPartition | None = (
            appender.partition(table, partition) if appender is not None else None
        )
        # The newest changelog write: identity records it caused wait for it (stream.identity).
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
        # Sent first: if the producer refuses the write, the table is left as it was.
        self._send(raw, pack(value, self.codec))
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
        self._send(raw, None)

    def items(self, prefix: str) -> Iterable[tuple[str, bytes]]:
        head = prefix.encode()
        found: list[tuple[str, bytes]] = []
        for raw, value in list(self._rows.items()):
            if raw.startswith(head):
                if is_packed(value):
                    value = self._unpacked(raw, value)
                found.append((raw.decode(), value))
        return found

    def defer_writes(self) -> None:
        """Keep the changelog records written until ``write_deferred`` (stream.dead_letters)."""
        if self.changelog is not None:
            self.changelog.hold()

    def write_deferred(self) -> None:
        if self.changelog is not None:
            self.last_write = self.changelog.release() or self.last_write

    def _send(self, raw: bytes, record: bytes | None) -> None:
        if self.changelog is not None:  # tracked there, once per batch
            self.last_write = self.changelog.send(raw, record) or self.last_write
            return
        self.last_write = self.table.send_changelog(self.partition, raw, record, "raw", "raw")
        self.pending.track(self.last_write)

    def _unpacked(self, raw: bytes, packed: bytes) -> bytes:
        row = self._rows[raw] = unpack(packed)
        if self.codec == "none":  # the same row, readable by releases before the codec
            self._send(raw, row)
        return row
