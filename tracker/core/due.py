"""What falls due as a partition's watermark moves: sessions that are over, holds that
timed out, state past retention. Pure; ``PartitionProcessor`` calls these after every
message and at every tick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracker.core.customer_context import CustomerContext
from tracker.core.experience import counts_while_held, expire_due, expired
from tracker.core.identity_customer import release, release_claims
from tracker.core.rows import IndexInfo
from tracker.core.sessionizer import close_session

if TYPE_CHECKING:
    from tracker.core.partition import PartitionProcessor


def close_due(p: PartitionProcessor) -> None:
    """Close the sessions the watermark passed; release held events whose hold timed out."""
    wm = p.watermark_ms
    rules = p.rules
    for key in p.index.deadlines.due(wm):
        row = p.load_row(key)
        before = p.index_info(row.state if row else None)
        if row is None or row.state is None or before.deadline is None:
            continue
        if before.deadline > wm:  # the index and the row disagree: trust the row
            p.index.deadlines.move(key, None, before.deadline)
            continue
        # The index no longer holds the key: saving must not move it from there.
        customer = CustomerContext.of_row(
            p, key, row, IndexInfo(None, before.entry, before.expiry, before.held)
        )
        identity = row.state.identity
        if identity is not None and 0 <= identity.hold_until_ms <= wm:
            release(customer)  # the hand-over did not come in time: settle by event time
        if identity is not None and identity.waiting:
            release_claims(customer, wm)
        state = row.state
        session = state.session
        if session is not None and session.deadline_ms(rules.gap_ms, rules.max_session_ms) <= wm:
            close_session(rules, state, customer.delta)
        expire_due(state, wm, customer.delta)  # support tickets past their lifetime
        customer.touched = True
        customer.save()


def expire(p: PartitionProcessor, budget: int) -> None:
    """Delete the state of customers past retention, at most ``budget`` per tick.

    Customers expire by day of event time, so a whole day's worth falls due at once
    (all of them when the idle rule moves the watermark on by months); in batches
    the tombstones leave over a few ticks instead of one long stall and a producer
    buffer holding them all.
    """
    wm = p.watermark_ms
    for day, key in p.index.expiring(wm, budget):
        row = p.load_row(key)
        info = p.index_info(row.state if row else None)
        if row is None or info.expiry is None:
            p.index.forget_expiry(day, key)
        elif info.expiry <= wm and info.deadline is None:
            p.index.forget_expiry(day, key)
            if row.state is not None and counts_while_held(row.state):
                # Still counted as present (a lapsed customer): written once more, empty,
                # with the delta that stops that; deleted once its epoch is flushed.
                customer = CustomerContext.of_row(
                    p, key, row, IndexInfo(None, info.entry, None, info.held)
                )
                expired(row.state, customer.delta)
                row.state, customer.touched = None, True
                customer.save()
            elif row.epoch < p.epoch:
                p.store.delete(key)  # its last delta is already in the aggregates
            else:
                p._pending_delete.add(key)
