"""A partition's state rebuilt from the rows its changelog restored (after a crash or a
rebalance). Pure; ``PartitionProcessor.recover`` calls it before the first message.

The counter rows come back as the epochs they include; every customer row adds its delta
to those of them older than its own epoch (``aggregates``), and the highest offset any
row applied is where the partition goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from tracker.core.aggregates import COUNTER_ROW
from tracker.core.due import close_due
from tracker.core.rows import NO_INDEX, row_state, spent_or_delta

if TYPE_CHECKING:
    from tracker.core.partition import PartitionProcessor


def restore(p: PartitionProcessor, now_ms: int) -> None:
    """Rebuild from the rows restored from the changelog, then persist a clean epoch."""
    prefix = f"{p.partition}/"
    delta_rows: list[tuple[str, bytes, dict[str, Any]]] = []
    for key, raw in p.store.items(prefix):
        kind = key[len(prefix) :].split("/", 1)
        if kind[0] == "a":
            p.aggregates.load_row(kind[1], raw)
            p.epoch = max(p.epoch, p.aggregates.row_epochs[kind[1]])
        else:
            delta_rows.append((key, raw, orjson.loads(raw)))
    offset = p.aggregates.applied_offset
    for key, _, body in delta_rows:
        epoch = int(body["e"])
        p.epoch = max(p.epoch, epoch)
        offset = max(offset, int(body["o"]))
        p.aggregates.apply(spent_or_delta(body), only_rows_before_epoch=epoch)
        state = row_state(body, p.rules.labels.touchpoints)
        p.identity.recovered_row(key, state, body)
        if state is None or state.is_empty():
            p._pending_delete.add(key)
        else:
            p.index.move(key, NO_INDEX, p.index.info(state))
    p.applied_offset = offset
    p.aggregates.applied_offset = offset
    p.identity.recovered(p.aggregates)
    if p.aggregates.max_event_ms or p.aggregates.idle_floor_ms:
        p.last_input_wall_ms = now_ms  # restored input counts as input for the idle rule
    p.epoch += 1
    p.aggregates.dirty.update(p.aggregates.row_epochs)
    p.aggregates.dirty.add(COUNTER_ROW)
    p.flush()
    _hold_spent(p, delta_rows)
    # Sessions due at the restored watermark close now, as they had before the crash.
    # Only after the flush: rewriting a row drops its delta, which must be persisted first.
    close_due(p)


def _hold_spent(p: PartitionProcessor, rows: list[tuple[str, bytes, dict[str, Any]]]) -> None:
    """The flush above holds every restored delta: memory keeps the rows without them.

    As ``epoch_writes`` does for the rows an epoch wrote; without this, every row that is
    not written again after a restart (most, with months of retention) keeps its delta.
    Encoded again from the parsed row: rows of older versions have the delta mid-row.
    """
    for key, raw, body in rows:
        if "d" in body and p.store.get(key) is raw:  # not deleted by the flush
            held = orjson.dumps({k: v for k, v in body.items() if k != "d"})
            p.store.hold(key, bytes(memoryview(held)))  # right-sized: orjson's buffer is 4 KiB+
