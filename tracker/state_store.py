"""The storage a processor writes to: rows of one partition, mirrored to its changelog."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

DAY_MS = 86_400_000
MINUTE_MS = 60_000


class StateStore(Protocol):
    """Key-value rows of one partition; writes must reach that partition's changelog."""

    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, value: bytes) -> None: ...
    def delete(self, key: str) -> None: ...
    def items(self, prefix: str) -> Iterable[tuple[str, bytes]]: ...
