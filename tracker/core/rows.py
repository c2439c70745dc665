"""A customer's row in the state store: state, applied offset, epoch and the epoch's delta.

See ``aggregates`` for why rows carry offsets, epochs and deltas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from tracker.core.aggregates import Delta
from tracker.core.customer import CustomerState, decode_state, encode_state
from tracker.core.identity_state import decode_identity, encode_identity
from tracker.core.timestamps import to_ms


@dataclass(slots=True, init=False)
class Row:
    state: CustomerState | None
    epoch: int
    delta: Delta

    # Written out, not generated: mypyc compiles it, the generated one stays interpreted.
    def __init__(self, state: CustomerState | None, epoch: int, delta: Delta) -> None:
        self.state = state
        self.epoch = epoch
        self.delta = delta


def row_parts(
    state: CustomerState | None,
    offset: int,
    epoch: int,
    delta: Delta,
    touchpoints: Sequence[str] = (),
    identity_offset: int = -1,
    timer_offset: int = -1,
) -> tuple[bytes, int]:
    """The row as stored and where its delta begins: ``held_row`` cuts it there.

    ``touchpoints``: the allow-list the state's steps index into (needed with a state).
    ``identity_offset``: the identity topic's applied offset, like ``offset`` the input's
    (written once the partition applied an identity record: older rows lack it).

    The delta is written last so that, once its epoch is flushed, memory can keep the
    row without it (``tracker/core/epoch_writes.py``).
    """
    body: dict[str, Any] = {
        "s": encode_state(state, touchpoints) if state is not None else None,
        "o": offset,
        "e": epoch,
    }
    if identity_offset >= 0:
        body["i"] = identity_offset
    if timer_offset >= 0:
        body["t"] = timer_offset
    if state is not None and state.identity is not None:
        body["n"] = encode_identity(state.identity)
    head = orjson.dumps(body)
    cut = len(head) - 1  # before the closing brace
    tail = orjson.dumps(delta.to_json())
    return b"".join((memoryview(head)[:cut], b',"d":', tail, b"}")), cut  # one copy


def held_row(row: bytes, cut: int) -> bytes:
    """``row`` (from ``row_parts``) without its delta: what a restore would skip anyway."""
    return row[:cut] + b"}"


def spent_or_delta(body: dict[str, Any]) -> Delta:
    """A parsed row's delta; a row held without it (``held_row``) is in a flushed epoch."""
    return Delta.from_json(body["d"]) if "d" in body else Delta()


def row_state(body: dict[str, Any], touchpoints: Sequence[str]) -> CustomerState | None:
    """The customer state a parsed row holds (None once erased); see ``row_parts``."""
    if body.get("s") is None:
        return None
    state = decode_state(body["s"], touchpoints)
    if body.get("n") is not None:
        state.identity = decode_identity(body["n"])
    return state


def parse_time(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return to_ms(moment) if moment.tzinfo is not None else None


@dataclass(frozen=True, slots=True, init=False)
class IndexInfo:
    deadline: int | None
    entry: int | None
    expiry: int | None
    held: int  # events held back for a pending hand-over (tracker_identity_held_events)

    # Written out, not generated: mypyc compiles it, the generated one stays interpreted.
    def __init__(
        self, deadline: int | None, entry: int | None, expiry: int | None, held: int
    ) -> None:
        object.__setattr__(self, "deadline", deadline)
        object.__setattr__(self, "entry", entry)
        object.__setattr__(self, "expiry", expiry)
        object.__setattr__(self, "held", held)


NO_INDEX = IndexInfo(None, None, None, 0)


def discard(index: dict[int, set[str]], bucket: int, key: str) -> None:
    members = index.get(bucket)
    if members is not None:
        members.discard(key)
        if not members:
            del index[bucket]
