"""The storage a processor writes to: rows of one partition, mirrored to its changelog."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

DAY_MS = 86_400_000
MINUTE_MS = 60_000


def end_epoch(
    store: StateStore, partition: int, rows: Iterable[tuple[str, bytes | None]], deletable: set[str]
) -> None:
    """Write a flush epoch's aggregate rows, then delete rows whose deltas they now hold.

    The order matters: a row is deleted only after the aggregates that include its
    last delta are in the changelog, or a crash in between would lose that delta.
    """
    for row, body in rows:
        key = f"{partition}/a/{row}"
        if body is None:
            store.delete(key)
        else:
            store.put(key, body)
    for key in sorted(deletable):
        store.delete(key)
    deletable.clear()


class StateStore(Protocol):
    """Key-value rows of one partition; writes must reach that partition's changelog."""

    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, value: bytes) -> None: ...
    # Keep ``value`` in memory for ``key`` without a changelog write: the row last written,
    # less what only a restore reads (``tracker/core/epoch_writes.py``).
    def hold(self, key: str, value: bytes) -> None: ...
    def delete(self, key: str) -> None: ...
    def items(self, prefix: str) -> Iterable[tuple[str, bytes]]: ...
