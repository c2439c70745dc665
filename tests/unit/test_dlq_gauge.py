"""``tracker_dlq_records{reason}``: letters written within the DLQ's retention, by reason."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from tests.unit.helpers import HOUR, Harness, encode, ev, ms
from tracker.core.memory_store import MemoryStore
from tracker.metrics.dead_letters import DeadLetterGauge
from tracker.metrics.samples import parse_exposition, total


def _gauge(h: Harness, now_ms: int, retention_hours: float = 72) -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(DeadLetterGauge(lambda: {0: h.p}, lambda: now_ms, retention_hours))
    samples = parse_exposition(generate_latest(registry).decode())
    return {dict(labels)["reason"]: value for _name, labels, value in samples}


def test_letters_count_by_reason_while_the_dlq_keeps_them() -> None:
    h = Harness()
    h.raw("ana", b"{oops", wall_ms=ms(0))
    h.raw("ana", b"[1", wall_ms=ms(HOUR))
    h.raw("bo", encode(ev("page_view", "bo", 0, channel="fax")), wall_ms=ms(2 * HOUR))
    h.send(ev("page_view", "cy", 0, analytics=False))  # no consent: never a letter
    h.p.flush()
    now = ms(3 * HOUR)
    assert _gauge(h, now) == {
        "invalid_json": 2,
        "invalid_event": 1,
        "key_mismatch": 0,
        "too_large": 0,
        "future_timestamp": 0,
        "internal_error": 0,
    }
    assert _gauge(h, ms(72.5 * HOUR))["invalid_json"] == 1  # the first one aged out
    assert _gauge(h, ms(80 * HOUR))["invalid_event"] == 0


def test_the_count_is_part_of_the_state_and_survives_a_restart() -> None:
    h = Harness()
    for i in range(3):
        h.raw(f"c{i}", b"nope", wall_ms=ms(i))
    h.p.flush()
    restarted = Harness()
    restarted.store = MemoryStore.replay(h.store.log)
    restarted.p = restarted.cfg.processor(0, restarted.store)
    restarted.p.recover(ms(10))
    assert _gauge(restarted, ms(10))["invalid_json"] == 3
    assert total(h.samples(), "tracker_events_rejected_total", reason="invalid_json") == 3
