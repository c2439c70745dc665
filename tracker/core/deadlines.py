"""Open sessions by the event time at which they end, for closing them as the watermark passes.

Every input message asks "which sessions are due now?", so the answer must not cost a
scan. Sessions far ahead wait in per-minute buckets; when the watermark reaches a minute,
that minute's sessions move once into a heap ordered by their exact end, from which each
message pops only what is due. A session whose end moves (a new event extends it) leaves
a stale heap entry behind; it is recognised by its end no longer matching and skipped.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from tracker.core.histogram import MINUTE_MS


class DeadlineIndex:
    def __init__(self) -> None:
        self._buckets: dict[int, dict[str, int]] = {}  # minute -> key -> deadline
        self._minutes: list[int] = []  # heap of bucket minutes; may repeat or be stale
        self._near: dict[str, int] = {}  # key -> deadline, for minutes the watermark reached
        self._near_heap: list[tuple[int, str]] = []
        self._opened = -1  # every minute up to this one lives in the near tier

    def __len__(self) -> int:
        return len(self._near) + sum(len(b) for b in self._buckets.values())

    def __iter__(self) -> Iterator[tuple[str, int]]:
        yield from self._near.items()
        for bucket in self._buckets.values():
            yield from bucket.items()

    def move(self, key: str, before: int | None, after: int | None) -> None:
        """The session of ``key`` now ends at ``after`` (None: no open session)."""
        if before == after:
            return
        if before is not None:
            self._remove(key, before)
        if after is not None:
            self._add(key, after)

    def due(self, watermark_ms: int) -> list[str]:
        """Remove and return the keys whose session ends at or before the watermark."""
        minute = watermark_ms // MINUTE_MS
        if minute > self._opened:
            while self._minutes and self._minutes[0] <= minute:
                for key, deadline in self._buckets.pop(heapq.heappop(self._minutes), {}).items():
                    self._near[key] = deadline
                    heapq.heappush(self._near_heap, (deadline, key))
            self._opened = minute
        keys: list[str] = []
        heap = self._near_heap
        while heap and heap[0][0] <= watermark_ms:
            deadline, key = heapq.heappop(heap)
            if self._near.get(key) == deadline:
                del self._near[key]
                keys.append(key)
        if len(heap) > 64 and len(heap) > 2 * len(self._near):
            # Stale entries outnumber live ones: rebuild, so memory stays bounded.
            self._near_heap = [(deadline, key) for key, deadline in self._near.items()]
            heapq.heapify(self._near_heap)
        return keys

    def _add(self, key: str, deadline: int) -> None:
        minute = deadline // MINUTE_MS
        if minute <= self._opened:
            self._near[key] = deadline
            heapq.heappush(self._near_heap, (deadline, key))
            return
        bucket = self._buckets.get(minute)
        if bucket is None:
            bucket = self._buckets[minute] = {}
            heapq.heappush(self._minutes, minute)
        bucket[key] = deadline

    def _remove(self, key: str, deadline: int) -> None:
        minute = deadline // MINUTE_MS
        if minute <= self._opened:
            if self._near.get(key) == deadline:
                del self._near[key]  # its heap entry is now stale
            return
        bucket = self._buckets.get(minute)
        if bucket is not None and bucket.get(key) == deadline:
            del bucket[key]
            if not bucket:
                del self._buckets[minute]  # its entry in the minute heap is now stale
