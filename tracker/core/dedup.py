"""The de-duplication memory's bound: exact 64-bit hashes of a customer's last ids.

A customer's row remembers the hashes of the event ids it saw in the dedup window
(24 h), but never more than ``DEDUP_IDS`` of them: the ones that arrived last. No
structure that could take a new event for a duplicate (a Bloom filter of this size
would, for a few percent of a busy id's events); instead, a customer sending more
than ``DEDUP_IDS`` events within the window forgets its oldest ids early, and is
counted once per window in ``tracker_hot_customers_total``.

Why ``DEDUP_IDS`` is 128: the row must stay at most ``ROW_BOUND_BYTES`` (16 KiB)
whatever a client sends, and each of its events rewrites it. Its largest other part
is an open session's journey, up to 512 steps of ~24 bytes (~12.3 KB with the
default touchpoints), plus reach, orders, up to 16 accounts and the dead-letter count
(~0.9 KB). A remembered id takes 16 bytes of the row once the memory is packed
(below): 128 of them (~2 KB) fit with room to spare, and keep a customer sending
50,000 events a day cheap enough that its partition keeps well over half its rate
(``make bench``). ``tests/unit/test_hot_ids.py`` builds the worst row.

Retries and crash replays: the worker never relies on this memory after a crash
(rows carry the offsets they applied, so a re-delivered message is skipped by
offset); a client's retry is recognised as long as fewer than ``DEDUP_IDS`` other
events of the same customer arrived in between, and within the 24 h window: for
every customer below 128 events a day that is the whole window, for a kiosk
sending 50,000 a day about the last 3.7 minutes (its SDK retries within seconds).
"""

from __future__ import annotations

import base64
import struct
from typing import Any, Final

ROW_BOUND_BYTES = 16_384
DEDUP_IDS: Final = 128  # Final: compiled, the literal itself, not a lookup in the globals
# Up to this many ids a row lists them as JSON numbers (cheapest for the usual few);
# beyond, packed: base64 of the newest time, the 64-bit hashes, then each time as
# milliseconds before the newest (32 bits: 49 days, beyond any sensible window).
PACK_ABOVE = 32
_U32 = 0xFFFF_FFFF


def pack_ids(seen: dict[int, int]) -> list[int] | str:
    """The row form of ``seen`` (hash -> event time), in the order the ids arrived."""
    times = seen.values()
    if len(seen) <= PACK_ABOVE or max(times) - min(times) > _U32:
        # Times more than 49 days apart (an old identify's id, a long TRACKER_DEDUP_WINDOW)
        # do not fit the packed form: listed, every id reads back, as the memory holds it.
        return [v for pair in seen.items() for v in pair]
    newest = max(times)
    n = len(seen)
    # ``map`` of a bound method: no Python-level loop per id on this path.
    raw = struct.pack(f"<q{n}Q{n}I", newest, *seen, *map(newest.__sub__, times))
    return base64.b64encode(raw).decode("ascii")


def unpack_ids(data: list[Any] | str) -> dict[int, int]:
    """``pack_ids`` read back; a flat list of numbers is the form rows always had."""
    if not isinstance(data, str):
        return dict(zip(data[::2], data[1::2], strict=True))
    raw = base64.b64decode(data)
    n = (len(raw) - 8) // 12
    values = struct.unpack(f"<q{n}Q{n}I", raw)
    newest = values[0]
    return dict(zip(values[1 : n + 1], map(newest.__sub__, values[n + 1 :]), strict=True))


def forget_oldest(seen: dict[int, int], horizon_ms: int) -> bool:
    """Drop the earliest-arrived ids beyond ``DEDUP_IDS``; True if one was still in window."""
    binding = False
    while len(seen) > DEDUP_IDS:
        oldest = next(iter(seen))
        # The pop first: ``binding or seen.pop(...)`` stops popping once binding, and
        # loops forever when more than one id must go (a merge of two full memories).
        binding = seen.pop(oldest) >= horizon_ms or binding
    return binding
