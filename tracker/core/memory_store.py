"""An in-memory ``StateStore`` that records its changelog: for tests and tooling."""

from __future__ import annotations

from collections.abc import Iterable


class MemoryStore:
    """Rows in a dict plus the ordered log of writes (None = tombstone)."""

    def __init__(self) -> None:
        self.rows: dict[str, bytes] = {}
        self.log: list[tuple[str, bytes | None]] = []

    def get(self, key: str) -> bytes | None:
        return self.rows.get(key)

    def put(self, key: str, value: bytes) -> None:
        self.rows[key] = value
        self.log.append((key, value))

    def hold(self, key: str, value: bytes) -> None:
        """In memory only: the log keeps the row as written (``tracker/core/epoch_writes.py``)."""
        self.rows[key] = value

    def delete(self, key: str) -> None:
        self.rows.pop(key, None)
        self.log.append((key, None))

    def items(self, prefix: str) -> Iterable[tuple[str, bytes]]:
        return [(k, v) for k, v in self.rows.items() if k.startswith(prefix)]

    @classmethod
    def replay(cls, log: Iterable[tuple[str, bytes | None]]) -> MemoryStore:
        """The table a restarted worker restores from (a prefix of) this changelog."""
        store = cls()
        for key, value in log:
            if value is None:
                store.delete(key)
            else:
                store.put(key, value)
        store.log = list(store.log)
        return store
