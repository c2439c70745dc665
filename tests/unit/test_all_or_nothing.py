"""One message, all or nothing (docs/operations.md#partition-faults).

A failure is injected at each step of the apply path. Before the message's row is
written, the message must leave no trace (it is dead-lettered as ``internal_error``
and a redrive after the fix counts it exactly once). After the row is written, the
failure is the partition's (``PartitionFault``): the message stays applied, and a
restart from the changelog gives exactly the counts of a run without the failure.

These are the only tests in the suite where ``internal_error`` may appear.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.helpers import Harness, encode, ev, ms
from tracker.core import aggregates, customer_context, partition
from tracker.core.faults import PartitionFault
from tracker.core.memory_store import MemoryStore

# Failures are injected on purpose here: their internal_error is the subject, not a bug.
pytestmark = pytest.mark.internal_error_expected


class InjectedError(RuntimeError):
    pass


def _boom(*_args: Any, **_kwargs: Any) -> Any:
    raise InjectedError("injected failure")


def _message() -> bytes:
    return encode(
        [
            ev("page_view", "ana", 0, account_id="acme"),
            ev("order", "ana", 30, revenue="12.50", account_id="acme"),
            ev("feedback", "ana", 40, nps=10),
        ]
    )


def _counts(h: Harness) -> dict[str, int]:
    return {k: v for k, v in h.p.aggregates.counters.items() if v}


BEFORE_THE_WRITE: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "classify": lambda mp: mp.setattr(partition, "classify", _boom),
    "event view": lambda mp: mp.setattr(partition.EventView, "build", _boom),
    "session rules": lambda mp: mp.setattr(customer_context, "accept", _boom),
    "row encoding": lambda mp: mp.setattr(partition, "row_parts", _boom),
    "store write": lambda mp: mp.setattr(MemoryStore, "put", _boom),
}


@pytest.mark.source_core
@pytest.mark.parametrize("step", BEFORE_THE_WRITE)
def test_a_failure_before_the_write_leaves_nothing_and_a_redrive_counts_once(
    step: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = Harness()
    h.send(ev("page_view", "bo", 0))  # another customer's state must stay as it is
    before_counts, before_rows = _counts(h), dict(h.store.rows)
    with monkeypatch.context() as mp:
        BEFORE_THE_WRITE[step](mp)
        h.offset += 1
        with pytest.raises(InjectedError):
            h.p.process(b"ana", _message(), h.offset, ms(50), ms(50))
    letter = h.p.fail(_message(), h.offset, InjectedError("injected failure"))
    assert letter.reason == "internal_error"
    assert h.p.outbox == []
    after = _counts(h)
    assert after.pop("tracker_events_rejected_total|internal_error") == 1
    after["tracker_events_received_total"] -= 1  # the failed message, as one item
    assert after == before_counts
    customer_rows = {k: v for k, v in h.store.rows.items() if "/c/" in k}
    assert customer_rows == {k: v for k, v in before_rows.items() if "/c/" in k}

    h.raw("ana", _message(), ms(50))  # the redrive, after the fix
    h.close_all()
    assert h.total("tracker_events_total") == 4
    assert h.total("tracker_orders_total") == 1
    assert h.total("tracker_revenue_total", currency="EUR") == 12.5
    assert h.total("tracker_nps_responses_total") == 1


AFTER_THE_WRITE: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "aggregates": lambda mp: mp.setattr(aggregates.Aggregates, "apply", _boom),
    "session index": lambda mp: mp.setattr(partition.PartitionProcessor, "_index", _boom),
    "closing due sessions": lambda mp: mp.setattr(
        partition.PartitionProcessor, "_close_due", _boom
    ),
}


@pytest.mark.source_core
@pytest.mark.parametrize("step", AFTER_THE_WRITE)
def test_a_failure_after_the_write_is_a_partition_fault_and_a_restart_is_exact(
    step: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = Harness()
    clean.send(ev("page_view", "bo", 0))
    clean.raw("ana", _message(), ms(50))
    clean.close_all()

    h = Harness()
    h.send(ev("page_view", "bo", 0))
    with monkeypatch.context() as mp:
        AFTER_THE_WRITE[step](mp)
        h.offset += 1
        with pytest.raises(PartitionFault) as fault:
            h.p.process(b"ana", _message(), h.offset, ms(50), ms(50))
    assert isinstance(fault.value.__cause__, InjectedError)
    assert fault.value.letters == []
    # The worker pauses the partition; a restart restores it from the changelog.
    restarted = h.cfg.processor(0, MemoryStore.replay(h.store.log))
    restarted.recover(h.wall_ms)
    h.p, h.store = restarted, restarted.store  # type: ignore[assignment]
    h.close_all()
    assert "tracker_events_rejected_total|internal_error" not in _counts(h)
    assert _counts(h) == _counts(clean)
