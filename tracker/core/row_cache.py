"""Decoded rows kept between messages, so a large row is not parsed again for every event.

A customer sending all day (a kiosk) has a row of ~14 KB: parsing and decoding it took
~60 µs of the ~140 µs each of its events cost. The partition keeps the decoded form of
the rows it wrote last, beside the exact bytes object it stored, and lends it out again
only while the store still holds that very object: any other write, a delete or a
restore makes the entry useless, never wrong.

A row is lent, not shared: ``take`` removes it, and only a successful write puts it back.
A message that fails after changing the row in memory (the rows it loaded are then
ahead of the store) leaves nothing here, so the next message decodes the stored bytes,
as it would have without this cache.
"""

from __future__ import annotations

from collections import OrderedDict

from tracker.core.rows import Row

# Per partition: the customers written last. A few KB decoded each; a full journey with a
# full de-duplication memory ~60 KB, so ~15 MB if every one of them were a kiosk.
ROWS_KEPT = 256


class RowCache:
    def __init__(self, capacity: int = ROWS_KEPT) -> None:
        self.capacity = capacity
        self._rows: OrderedDict[str, tuple[bytes, Row]] = OrderedDict()

    def take(self, key: str, stored: bytes) -> Row | None:
        """The decoded row of ``stored`` (the store's current bytes object), if kept."""
        entry = self._rows.pop(key, None)
        if entry is None or entry[0] is not stored:
            return None
        return entry[1]

    def keep(self, key: str, stored: bytes | None, row: Row) -> None:
        """``row`` as just written; ``stored``: the object the store now holds for ``key``."""
        if stored is None or self.capacity <= 0:
            return
        self._rows[key] = (stored, row)
        self._rows.move_to_end(key)
        if len(self._rows) > self.capacity:
            self._rows.popitem(last=False)

    def rebind(self, key: str, stored: bytes, now: bytes) -> None:
        """The store replaced ``stored`` by ``now``, the same row less its spent delta."""
        entry = self._rows.get(key)
        if entry is not None and entry[0] is stored:
            self._rows[key] = (now, entry[1])

    def __len__(self) -> int:
        return len(self._rows)
