"""Journeys: transitions, exits, funnel, multichannel, last channel (docs/metrics.md#journeys)."""

from __future__ import annotations

from typing import Any

from tests.unit.helpers import MIN, Harness, ev


def journey(*steps: tuple[str, str] | tuple[str, str, dict[str, Any]]) -> Harness:
    """One closed session of ana: (event type, touchpoint[, fields]) a minute apart."""
    h = Harness()
    for i, step in enumerate(steps):
        fields = step[2] if len(step) == 3 else {}
        h.send(ev(step[0], "ana", i * MIN, touchpoint=step[1], **fields))
    h.close_all()
    return h


def transitions(h: Harness) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for name, labels, value in h.samples():
        if name == "tracker_journey_transitions_total" and value:
            d = dict(labels)
            out[(d["from_touchpoint"], d["to_touchpoint"])] = value
    return out


def exits(h: Harness) -> dict[str, float]:
    return {
        dict(labels)["touchpoint"]: value
        for name, labels, value in h.samples()
        if name == "tracker_session_exits_total" and value
    }


def funnel(h: Harness) -> dict[str, float]:
    return {
        step: h.total("tracker_funnel_sessions_total", step=step)
        for step in ("product", "cart", "checkout", "order")
    }


def test_transitions_between_touchpoint_changes_and_the_exit() -> None:
    h = journey(
        ("page_view", "home"),
        ("page_view", "product"),
        ("interaction", "product"),  # no self-transition
        ("page_view", "cart"),
        ("order", "checkout"),
    )
    assert transitions(h) == {
        ("home", "product"): 1,
        ("product", "cart"): 1,
        ("cart", "checkout"): 1,
    }
    assert exits(h) == {"checkout": 1}


def test_pings_and_consent_events_never_make_a_transition_or_an_exit() -> None:
    h = journey(
        ("page_view", "home"),
        ("page_ping", "payment"),
        ("consent", "consent_banner"),
        ("page_view", "home"),
        ("page_ping", "support"),
    )
    assert transitions(h) == {}
    assert exits(h) == {"home": 1}


def test_feedback_is_a_journey_step() -> None:
    h = journey(("page_view", "home"), ("feedback", "survey"))
    assert transitions(h) == {("home", "survey"): 1}
    assert exits(h) == {"survey": 1}


def test_touchpoint_labels_cut_at_the_first_colon_and_fall_back_to_other() -> None:
    h = journey(
        ("page_view", "store:berlin"),
        ("page_view", "store:munich:east"),  # still "store": no transition
        ("page_view", "blog"),
        ("page_view", "storefront:x"),  # "other" again: no transition
        ("page_view", "product:sku-123"),
    )
    assert transitions(h) == {("store", "other"): 1, ("other", "product"): 1}
    assert exits(h) == {"product": 1}


def test_steps_are_ordered_by_event_time() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 2 * MIN, touchpoint="cart"))
    h.send(ev("page_view", "ana", 1 * MIN, touchpoint="home"))
    h.close_all()
    assert transitions(h) == {("home", "cart"): 1}
    assert exits(h) == {"cart": 1}


def test_only_closed_sessions_make_journeys() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0), ev("page_view", "ana", 1, touchpoint="cart"))
    assert transitions(h) == {}
    assert exits(h) == {}
    h.send(ev("consent", "ana", 2, analytics=False))  # discarded, never closed
    h.close_all()
    assert transitions(h) == {}
    assert exits(h) == {}


def test_each_session_has_its_own_journey() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0, touchpoint="home"))
    h.send(ev("page_view", "ana", 60 * MIN, touchpoint="cart"))  # a new session
    h.close_all()
    assert transitions(h) == {}
    assert exits(h) == {"home": 1, "cart": 1}


# --- funnel --------------------------------------------------------------------------------


def test_an_order_on_the_checkout_page_reaches_checkout_and_order() -> None:
    h = journey(("page_view", "product"), ("page_view", "cart"), ("order", "checkout"))
    assert funnel(h) == {"product": 1, "cart": 1, "checkout": 1, "order": 1}


def test_funnel_steps_are_reached_in_order() -> None:
    h = journey(("page_view", "cart"), ("page_view", "product"), ("order", "payment"))
    assert funnel(h) == {"product": 1, "cart": 0, "checkout": 0, "order": 0}


def test_funnel_counts_a_session_once_per_step() -> None:
    h = journey(
        ("page_view", "product"),
        ("page_view", "product:2"),
        ("page_view", "cart"),
        ("page_view", "product"),
        ("page_view", "cart"),
    )
    assert funnel(h) == {"product": 1, "cart": 1, "checkout": 0, "order": 0}
    assert h.gauge("tracker_funnel_dropoff_ratio", step="cart") == 0.0
    assert h.gauge("tracker_funnel_dropoff_ratio", step="checkout") == 1.0


# --- channels ------------------------------------------------------------------------------


def test_multichannel_sessions_by_entry_channel() -> None:
    h = Harness()
    h.send(
        ev("page_view", "ana", 0, channel="email"),
        ev("page_ping", "ana", 1, channel="web"),
        ev("page_view", "bob", 0, channel="app"),
        ev("page_view", "bob", 1, channel="app"),
    )
    h.close_all()
    assert h.total("tracker_sessions_multichannel_total") == 1
    assert h.total("tracker_sessions_multichannel_total", channel="email") == 1


def test_last_channel_before_the_order() -> None:
    h = Harness()
    h.send(
        ev("page_view", "ana", 0, channel="email"),
        ev("page_view", "ana", 1, channel="social"),
        ev("order", "ana", 2, channel="web"),
        ev("page_view", "ana", 3, channel="app"),
    )
    h.close_all()
    assert h.total("tracker_conversions_last_channel_total") == 1
    assert h.total("tracker_conversions_last_channel_total", channel="social") == 1


def test_last_channel_of_an_order_opening_the_session_is_its_own() -> None:
    h = Harness()
    h.send(ev("order", "ana", 0, channel="call_center"), ev("order", "ana", 1, channel="web"))
    h.close_all()
    assert h.total("tracker_conversions_last_channel_total", channel="call_center") == 1
    assert h.total("tracker_conversions_last_channel_total") == 1
