"""Segment messages' live experiments (docs/segment.md#experiments)."""

from __future__ import annotations

from typing import Any

from tracker.collector.segment_map import Invalid, Mapped, Source, map_message

NOW = "2026-05-04T09:00:00.000Z"
CONSENTED = {"consent": {"categoryPreferences": {"Analytics": True}}}
SOURCE = Source(categories=(("analytics", "analytics"),))


def message(kind: str, context: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "messageId": "m-1",
        "anonymousId": "anon-1",
        "timestamp": NOW,
        "context": {**CONSENTED, **(context or {})},
        **fields,
    }


def mapped(item: dict[str, Any]) -> dict[str, Any]:
    result = map_message(item, None, SOURCE, NOW)
    assert isinstance(result, Mapped), result
    return result.event


def test_experiment_viewed_names_the_pair_from_its_properties() -> None:
    props = {"experiment_name": "Checkout Button", "variation_name": "Green!", "experiment_id": "7"}
    event = mapped(message("track", event="Experiment Viewed", properties=props))
    assert (event["event_type"], event["action"]) == ("interaction", "experiment_viewed")
    assert (event["experiment"], event["variant"]) == ("checkout-button", "green")


def test_experiment_viewed_falls_back_to_the_ids() -> None:
    props = {"experiment_id": 42, "variation_id": "B"}
    event = mapped(message("track", event="experiment viewed", properties=props))
    assert (event["experiment"], event["variant"]) == ("42", "b")


def test_any_call_carries_the_pair_in_its_context() -> None:
    pair = {"experiment": "checkout-button", "variant": "blue"}
    for kind in ("page", "track"):
        event = mapped(message(kind, pair, event="Product Viewed", name="Shoes"))
        assert (event["experiment"], event["variant"]) == ("checkout-button", "blue")
    assert "experiment" not in mapped(message("page", name="Shoes"))


def test_one_without_the_other_is_rejected_with_its_rule() -> None:
    result = map_message(message("page", {"experiment": "checkout-button"}), None, SOURCE, NOW)
    assert isinstance(result, Invalid)
    assert [e["rule"] for e in result.errors] == ["invalid:variant"]
    odd = map_message(message("page", {"experiment": ["x"], "variant": "b"}), None, SOURCE, NOW)
    assert isinstance(odd, Invalid) and odd.errors[0]["rule"] == "invalid:experiment"
