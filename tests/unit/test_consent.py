"""The consent gate, withdrawals and erasure (docs/metrics.md#withdrawal-and-erasure)."""

from __future__ import annotations

from tests.unit.helpers import DAY, MIN, Harness, encode, ev, ms


def withdrawal(customer: str, at: float, **fields: object) -> dict[str, object]:
    return ev("consent", customer, at, analytics=False, **fields)


def grant(customer: str, at: float) -> dict[str, object]:
    return ev("consent", customer, at)


def test_events_without_analytics_consent_are_dropped_before_state() -> None:
    h = Harness()
    h.send(
        ev("page_view", "ana", 0, analytics=False),
        ev("order", "ana", 1, analytics=False),
    )
    assert h.counters() == {
        "tracker_events_dropped_total|no_consent": 2,
        "tracker_events_received_total": 2,
    }
    assert h.state("ana") is None
    assert h.store.get("0/c/" + h.p.pseudonyms.of("ana")) is None


def test_marketing_consent_does_not_matter() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0, consent={"analytics": True, "marketing": True}))
    assert h.total("tracker_events_total") == 1


def test_withdrawal_mid_session_discards_the_open_session() -> None:
    h = Harness()
    h.send(
        ev("page_view", "ana", 0),
        ev("interaction", "ana", 1 * MIN),
        ev("order", "ana", 2 * MIN, revenue="40"),
    )
    h.send(withdrawal("ana", 5 * MIN))
    assert h.gauge("tracker_sessions_active", channel="web") == 0
    h.close_all()
    assert h.total("tracker_sessions_started_total") == 1  # never undone
    for outcome in ("closed", "bounced", "engaged", "interacted", "converted"):
        assert h.total(f"tracker_sessions_{outcome}_total") == 0, outcome
    assert h.total("tracker_session_exits_total") == 0
    assert h.total("tracker_erasures_total", reason="withdrawal") == 1
    # Counters are never decreased; the withdrawal is neither an event nor dropped.
    assert h.total("tracker_events_total") == 3
    assert h.total("tracker_revenue_total") == 40
    assert h.total("tracker_events_dropped_total") == 0


def test_withdrawn_customer_leaves_no_trace_but_a_marker() -> None:
    h = Harness()
    h.send(ev("order", "ana", 0, channel="app"), ev("page_view", "ana", 1))
    h.send(withdrawal("ana", 2 * MIN))
    state = h.state("ana")
    assert state is not None
    assert state.withdrawn
    assert state.session is None
    assert state.last_seen_ms == -1
    assert state.last_seen_by_channel == {}
    assert state.order_times == []
    assert len(state.seen_ids) == 1  # only the withdrawal's own id, for de-duplication


def test_events_after_a_withdrawal_are_dropped_until_a_grant() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0), withdrawal("ana", 1 * MIN))
    # Whatever consent they claim:
    h.send(ev("page_view", "ana", 2 * MIN), ev("order", "ana", 3 * MIN))
    assert h.total("tracker_events_dropped_total", reason="no_consent") == 2
    assert h.total("tracker_events_total") == 1
    h.send(grant("ana", 4 * MIN))
    assert h.total("tracker_events_total", event_type="consent") == 1
    h.send(ev("page_view", "ana", 5 * MIN))
    assert h.total("tracker_events_total", event_type="page_view") == 2
    assert h.total("tracker_sessions_started_total") == 2
    assert not h.state("ana").withdrawn  # type: ignore[union-attr]


def test_events_in_the_same_batch_after_a_withdrawal_are_dropped() -> None:
    h = Harness()
    h.send(
        ev("page_view", "ana", 0),
        withdrawal("ana", 1),
        ev("page_view", "ana", 2),
        grant("ana", 3),
        ev("page_view", "ana", 4),
        batch=True,
    )
    assert h.total("tracker_events_dropped_total", reason="no_consent") == 1
    assert h.total("tracker_events_total", event_type="page_view") == 2
    assert h.total("tracker_erasures_total") == 1


def test_withdrawal_marker_expires_after_90_days() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0), withdrawal("ana", 0))
    h.send(ev("page_view", "ana", 89 * DAY))
    assert h.total("tracker_events_dropped_total", reason="no_consent") == 1
    h.tick(ms(90 * DAY) + 11_000)  # idle: the watermark passes the marker's end
    assert h.state("ana") is None
    h.send(ev("page_view", "ana", 90 * DAY + 1))
    assert h.total("tracker_events_total") == 2


def test_repeated_withdrawal_is_not_counted_again() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0), withdrawal("ana", 1 * MIN), withdrawal("ana", 2 * MIN))
    assert h.total("tracker_erasures_total") == 1
    assert h.total("tracker_events_dropped_total") == 0


def test_withdrawal_of_an_unknown_customer_is_not_an_erasure() -> None:
    h = Harness()
    h.send(withdrawal("ana", 0))
    assert h.total("tracker_erasures_total") == 0
    h.send(ev("page_view", "ana", 1))
    assert h.total("tracker_events_dropped_total", reason="no_consent") == 1


def test_duplicate_withdrawal_is_a_duplicate() -> None:
    h = Harness()
    first = withdrawal("ana", 1 * MIN)
    h.send(ev("page_view", "ana", 0), first, first)
    assert h.total("tracker_erasures_total") == 1
    assert h.total("tracker_events_dropped_total", reason="duplicate") == 1


def test_resent_first_withdrawal_after_a_second_one_is_still_a_duplicate() -> None:
    h = Harness()
    first = withdrawal("ana", 1 * MIN)
    h.send(ev("page_view", "ana", 0), first, withdrawal("ana", 2 * MIN), first)
    assert h.total("tracker_erasures_total") == 1
    assert h.total("tracker_events_dropped_total", reason="duplicate") == 1


def test_withdrawal_after_grant_erases_again() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0), withdrawal("ana", 1 * MIN))
    h.send(grant("ana", 2 * MIN), ev("page_view", "ana", 3 * MIN), withdrawal("ana", 4 * MIN))
    assert h.total("tracker_erasures_total", reason="withdrawal") == 2


def test_withdrawal_after_the_session_ended_by_event_time_counts_it_first() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0, channel="email", touchpoint="email"))
    # No other input: the watermark has not closed the session yet.
    h.send(withdrawal("ana", 30 * MIN + 0.001))
    h.close_all()
    assert h.total("tracker_sessions_closed_total", channel="email") == 1
    assert h.total("tracker_sessions_bounced_total", channel="email") == 1
    assert h.total("tracker_session_exits_total", touchpoint="email") == 1
    assert h.total("tracker_erasures_total") == 1


def test_withdrawal_exactly_one_gap_after_the_last_event_discards_the_session() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0))
    h.send(withdrawal("ana", 30 * MIN))
    h.close_all()
    assert h.total("tracker_sessions_closed_total") == 0


def test_erased_customer_leaves_reach_at_once() -> None:
    h = Harness()
    h.send(
        ev("page_view", "ana", 0, channel="web"),
        ev("page_view", "ana", 1 * MIN, channel="app"),
        ev("page_view", "bob", 2 * MIN, channel="web"),
    )
    for window in ("1h", "24h", "7d", "28d"):
        assert h.gauge("tracker_reach", window=window, channel="all") == 2
    assert h.gauge("tracker_reach", window="1h", channel="app") == 1
    h.send(withdrawal("ana", 3 * MIN))
    for window in ("1h", "24h", "7d", "28d"):
        assert h.gauge("tracker_reach", window=window, channel="all") == 1
        assert h.gauge("tracker_reach", window=window, channel="web") == 1
        assert h.gauge("tracker_reach", window=window, channel="app") == 0


def test_erased_customer_leaves_the_repurchase_rate() -> None:
    h = Harness()
    h.send(ev("order", "ana", 0), ev("order", "ana", 1 * DAY), ev("order", "bob", 0))
    assert h.gauge("tracker_repurchase_rate", window="90d") == 0.5
    h.send(withdrawal("ana", 1 * DAY + 1))
    assert h.gauge("tracker_repurchase_rate", window="90d") == 0
    assert h.gauge("tracker_repurchase_customers_window", window="90d") == 1


def test_operator_erase_request_is_counted_with_its_reason() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0))
    h.offset += 1
    h.p.process(b"ana", encode({"reason": "request"}), h.offset, ms(1), ms(1), control="erase")
    assert h.total("tracker_erasures_total", reason="request") == 1
    assert h.gauge("tracker_reach", window="1h", channel="all") == 0
    assert h.state("ana").withdrawn  # type: ignore[union-attr]
