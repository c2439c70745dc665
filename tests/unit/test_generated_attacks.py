"""Generated attacks from schemas/ through the pure pipeline (docs/metrics.md#conservation).

Valid events, the edges of every range and near-valid items with one thing broken,
in batches with garbage, duplicates and wrong keys: every item received ends in
exactly one documented outcome, nothing raises, nothing is an ``internal_error``.
``make test`` runs a few dozen examples (hypothesis profile ``unit``); ``make fuzz``
runs the ``fuzz`` profile for minutes. The integration counterpart with a running
collector and worker: tests/integration/test_generated_attacks.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.support.attacks import (
    EVENT_SCHEMA,
    NEAR_MS,
    SCHEMAS,
    VALIDATOR,
    WRONG_TYPES,
    Attack,
    analytics_refused,
    at_an_edge,
    attacks,
    beyond_the_schema,
    broken,
    definition,
    edges,
    encode,
    received_items,
    valid_events,
    with_edge,
)
from tests.unit.helpers import config
from tracker.core.bounds import LATEST_MS, rule_of
from tracker.core.contract import parse_event
from tracker.core.ingest import Limits, Reject, classify
from tracker.metrics.catalogue import REJECT_REASONS
from tracker.metrics.samples import Sample, total
from tracker.testing.reference import ReferencePipeline

MAX_BYTES, MAX_EVENTS = 16_384, 5  # small limits, so generated batches reach them
# A stream costs ~0.5 s to draw (every value from the schema): a quarter of the examples.
STREAMS = settings(
    max_examples=max(5, settings().max_examples // 4),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
OUTCOMES = (
    "tracker_events_total",
    "tracker_events_rejected_total",
    "tracker_events_dropped_total",
    "tracker_consent_withdrawals_total",
)
# The field is the client's own key for an unknown field (`invalid:surprise`, even `invalid:`).
RULE = re.compile(r"^(invalid|out_of_range):")
EXAMPLES = {
    item["event_type"]: item
    for path in sorted((SCHEMAS / "examples").glob("*.json"))
    for item in (lambda data: data if isinstance(data, list) else [data])(
        json.loads(path.read_text())
    )
}


def rule(item: Any) -> str | None:
    """The rule the model rejects an item by, or None when it is an event."""
    try:
        parse_event(item)
    except ValidationError as exc:
        return rule_of(exc.errors(include_url=False)[0])
    return None


# --- the schema and the models agree --------------------------------------------------
@given(valid_events())
def test_what_the_schema_allows_is_an_event_but_for_what_it_cannot_say(item: Any) -> None:
    assert beyond_the_schema(item, rule(item))


@given(valid_events().flatmap(at_an_edge))
def test_an_item_at_the_edge_of_a_range_is_an_event(item: dict[str, Any]) -> None:
    assert beyond_the_schema(item, rule(item))


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_every_edge_is_inside_and_one_step_past_it_is_out_of_range(event_type: str) -> None:
    """The example event, one property at a time, at each bound and just past it."""
    example = EXAMPLES[event_type]
    schema = definition(example)
    assert schema is not None
    wrong = []
    for name, prop in schema["properties"].items():
        inside, beyond = edges(prop)
        wrong += [(name, v, found) for v in inside if (found := rule(with_edge(example, name, v)))]
        without_sent = {k: v for k, v in example.items() if k != "sent_at"}
        for value in beyond:
            found = rule({**without_sent, name: value})
            if found not in (f"out_of_range:{name}", f"invalid:{name}"):
                wrong.append((name, value, found))
    assert wrong == []


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_a_value_of_a_type_the_schema_refuses_is_refused_by_the_model(event_type: str) -> None:
    """`"schema_version": true` was a version-1 event: in Python, True == 1."""
    example = EXAMPLES[event_type]
    accepted = [
        (name, value)
        for name in (definition(example) or {})["properties"]
        for value in WRONG_TYPES
        if not VALIDATOR.is_valid({**example, name: value})
        and rule({**example, name: value}) is None
    ]
    assert accepted == []


@given(valid_events().flatmap(broken))
def test_an_item_with_one_thing_broken_is_rejected(case: tuple[dict[str, Any], str]) -> None:
    item, kind = case
    if kind == "surrogate":  # not even JSON: the whole message is invalid_json
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(encode(item))
        return
    found = rule(item)
    assert found is not None, f"{kind}: accepted {item}"
    if not beyond_the_schema(item, found):
        assert not VALIDATOR.is_valid(item), f"the schema allows what the model rejects: {found}"


def test_the_generator_reads_the_union_from_the_published_schema() -> None:
    """A new event type in the models is generated, and attacked, without a change here."""
    mapping = EVENT_SCHEMA["discriminator"]["mapping"]
    assert set(EXAMPLES) <= set(mapping)
    for event_type in mapping:
        schema = definition({"event_type": event_type})
        assert schema is not None and "event_type" in schema["required"], event_type


# --- every item received ends in one documented outcome --------------------------------------
@st.composite
def streams(draw: st.DrawFn) -> list[tuple[Attack, int, int]]:
    """Messages with broker and wall times; some sent twice (duplicates), some far ahead."""
    messages: list[tuple[Attack, int, int]] = []
    for attack in draw(st.lists(attacks(max_items=MAX_EVENTS + 1), min_size=1, max_size=4)):
        wall = draw(st.integers(*NEAR_MS))
        broker = draw(st.sampled_from((wall, wall, LATEST_MS, 0)))  # producers set CreateTime
        messages.append((attack, broker, wall))
        if draw(st.integers(0, 5)) == 0:
            messages.append((attack, broker, wall))
    return messages


def feed(messages: list[tuple[Attack, int, int]]) -> tuple[ReferencePipeline, int]:
    pipeline = ReferencePipeline(
        config(max_message_bytes=MAX_BYTES, max_message_events=MAX_EVENTS), partitions=2
    )
    received = 0
    for attack, broker_ms, wall_ms in messages:
        pipeline.feed(attack.key, attack.value, broker_ms, wall_ms)
        received += received_items(attack.value, MAX_BYTES, MAX_EVENTS)
    wall = max(wall for _, _, wall in messages)
    pipeline.tick(wall + 120_000)  # the idle rule moves the watermark: sessions close
    pipeline.tick(wall + 400 * 86_400_000)
    return pipeline, received


def check_outcomes(samples: list[Sample], letters: list[Any], received: int) -> None:
    """The conservation equation, and every dead letter with a documented reason."""
    assert total(samples, "tracker_events_received_total") == received
    assert sum(total(samples, name) for name in OUTCOMES) == received
    assert total(samples, "tracker_events_rejected_total", reason="internal_error") == 0
    assert total(samples, "tracker_scrape_errors_total") == 0
    assert len(letters) == total(samples, "tracker_events_rejected_total")
    for letter in letters:
        assert letter.reason in REJECT_REASONS, letter
        if letter.reason == "invalid_event":
            assert RULE.match(letter.rule), letter.rule


@STREAMS
@given(streams())
def test_every_item_received_ends_in_exactly_one_documented_outcome(
    messages: list[tuple[Attack, int, int]],
) -> None:
    pipeline, received = feed(messages)
    check_outcomes(pipeline.samples(), pipeline.letters, received)
    for attack, _, _ in messages:
        for item in attack.broken:  # classified on its own, as in its batch
            if analytics_refused(item):
                continue  # documented: consent is read first, even from a malformed event
            (outcome,) = classify("c", encode([item]), Limits())
            assert isinstance(outcome, Reject), item
            assert outcome.reason in ("invalid_event", "invalid_json")


def test_a_benchmark_run_that_shows_an_internal_error_is_not_correct() -> None:
    """bench/ compares a worker's counts with the reference; an internal_error fails it alone."""
    from bench.expect import internal_errors

    clean: list[Sample] = [("tracker_events_rejected_total", (("reason", "invalid_json"),), 3.0)]
    failed: list[Sample] = [
        *clean,
        ("tracker_events_rejected_total", (("partition", "2"), ("reason", "internal_error")), 1.0),
    ]
    assert internal_errors(clean) == []
    assert internal_errors(failed) == ["internal_error: 1 messages the tracker failed on"]
