"""Customer rows kept in memory without the delta that only a restore reads.

A customer row carries the aggregate delta of the flush epoch it was written in, so that
a restore after a crash can add what the counter rows did not hold yet (``aggregates``).
Once that epoch is flushed, the counter rows in the changelog hold it and a restore skips
it; in memory it is dead weight, about a third of a typical row (~240 of ~670 bytes on
the generated traffic). So at each flush the table keeps the rows written in the epoch
without their deltas: in memory only. The changelog keeps every row whole, and a restore
reads the changelog.

Only the bytes object the epoch wrote is replaced: a row deleted or written again since
is left as it is. Rows restored from the changelog are held the same way once the
restore's flush has spent their deltas (``restore``).
"""

from __future__ import annotations

from tracker.core.row_cache import RowCache
from tracker.core.rows import held_row
from tracker.core.state_store import StateStore


class EpochWrites:
    """The customer rows one epoch wrote: the object the store holds and where its delta begins."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[bytes, int]] = {}

    def wrote(self, key: str, stored: bytes | None, cut: int) -> None:
        """``stored``: the object the store now holds for ``key`` (as ``RowCache.keep``)."""
        if stored is not None:
            self._rows[key] = (stored, cut)

    def settle(self, store: StateStore, cache: RowCache) -> None:
        """Call once the epoch's counter rows are written: keep its rows without deltas."""
        for key, (written, cut) in self._rows.items():
            if store.get(key) is not written:
                continue  # deleted since (erased, expired): nothing to shrink
            held = held_row(written, cut)
            store.hold(key, held)
            cache.rebind(key, written, held)
        self._rows.clear()

    def __len__(self) -> int:
        return len(self._rows)
