"""Every kind of state, read from the code, is covered by erasure, by inspect and by PRIVACY.md.

The fields come from the dataclasses themselves (``CustomerState`` and every state class
reachable from it, ``AccountState``), the topics from the worker's own declarations
(``tracker_topics`` and the Faust topology): a new field or topic fails here until
``tracker.privacy.kinds``, erasure, ``tracker inspect`` and PRIVACY.md cover it.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any

import faust
import pytest

from tests.unit.helpers import T0_MS, Harness, ev
from tracker.core.accounts import AccountState
from tracker.core.aggregates import Delta
from tracker.core.customer import CustomerState, Session, Step
from tracker.core.identity_state import PENDING, IdentityState, Link
from tracker.core.retention import Retention
from tracker.core.rows import row_parts
from tracker.core.support import Ticket
from tracker.kafka.topics import tracker_topics
from tracker.privacy.access import describe
from tracker.privacy.kinds import KINDS, StateKind, kind_of
from tracker.settings import Settings
from tracker.stream.app import declare_topology

PRIVACY = (Path(__file__).resolve().parents[2] / "PRIVACY.md").read_text()
ROOTS = (CustomerState, AccountState)


def _fields_by_kind() -> dict[str, StateKind | None]:
    """Every field of the state classes, with the kind covering it.

    A class held inside a field (a session's steps, an identity's links) belongs to
    that field's kind unless the registry names it: so only the top-level fields of
    ``CustomerState`` and ``AccountState`` must be registered by hand.
    """
    covered: dict[str, StateKind | None] = {}
    todo: list[tuple[type, StateKind | None]] = [(root, None) for root in ROOTS]
    seen: set[type] = set()
    while todo:
        cls, inherited = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        for name, hint in typing.get_type_hints(cls).items():
            kind = kind_of(f"{cls.__name__}.{name}") or inherited
            covered[f"{cls.__name__}.{name}"] = kind
            todo.extend((t, kind) for t in _types_in(hint) if dataclasses.is_dataclass(t))
    return covered


def _types_in(hint: Any) -> list[Any]:
    args = typing.get_args(hint)
    return [hint, *(t for arg in args for t in _types_in(arg))]


def test_every_field_of_every_state_class_belongs_to_a_kind() -> None:
    uncovered = sorted(name for name, kind in _fields_by_kind().items() if kind is None)
    assert uncovered == [], "add them to tracker/privacy/kinds.py, erase them, show them"


# --- a customer with something of every kind --------------------------------------------

SAMPLES: dict[str, Any] = {
    "session": Session(T0_MS, T0_MS, 0, page_views=1, steps=[Step(T0_MS, 0, 0, 0)]),
    "last_seen_ms": T0_MS,
    "last_seen_by_channel": {0: T0_MS},
    "order_times": [T0_MS],
    "seen_ids": {42: T0_MS},
    "accounts": {"acct-pseudonym": T0_MS},
    "letters": 2,
    "last_letter_ms": T0_MS,
    "capped_at_ms": T0_MS,
    "identity": IdentityState(links=[Link("anon-pseudonym", 0, 7, PENDING, T0_MS)]),
    "tickets": {7: Ticket(0, T0_MS, T0_MS, T0_MS, T0_MS + 30 * 86_400_000)},
    "retention": Retention(T0_MS, 0, 1, T0_MS, 0, [T0_MS]),
}
MARKER_ONLY = {"withdrawn_until_ms"}  # set, the state would be a marker already


def _everything() -> CustomerState:
    missing = [
        f.name
        for f in dataclasses.fields(CustomerState)
        if f.name not in SAMPLES and f.name not in MARKER_ONLY
    ]
    if missing:
        pytest.fail(f"give CustomerState.{missing} a sample here, then cover it by erasure")
    return CustomerState(**SAMPLES)


def _harness_with_everything(customer: str) -> Harness:
    h = Harness()
    key = h.p.customer_key(h.p.pseudonyms.of(customer))
    touchpoints = h.p.rules.labels.touchpoints
    h.store.put(key, row_parts(_everything(), -1, h.p.epoch, Delta(), touchpoints)[0])
    h.p = h.cfg.processor(0, h.store)
    h.p.recover(T0_MS)  # as a restarted worker would: the row indexed, its session open
    return h


def _kinds_set(state: CustomerState) -> list[StateKind]:
    default = CustomerState()
    changed = [
        f.name
        for f in dataclasses.fields(CustomerState)
        if getattr(state, f.name) != getattr(default, f.name)
    ]
    return sorted({k for name in changed if (k := kind_of(f"CustomerState.{name}"))}, key=str)


@pytest.mark.parametrize("how", ["withdrawal", "erase"])
def test_an_erasure_leaves_only_what_a_marker_keeps(how: str) -> None:
    h = _harness_with_everything("anna")
    if how == "withdrawal":
        h.send(ev("consent", "anna", 60, analytics=False))
    else:
        h.offset += 1
        h.p.process(b"anna", b"{}", h.offset, T0_MS, T0_MS, control="erase")
    marker = h.state("anna")
    assert marker is not None and marker.withdrawn
    left = [k.name for k in _kinds_set(marker) if not k.marker_keeps]
    assert left == [], f"an erasure left {left}"
    assert marker.identity is None or not marker.identity.links


def test_inspect_shows_every_kind() -> None:
    h = _harness_with_everything("anna")
    raw = h.store.get(h.p.customer_key(h.p.pseudonyms.of("anna")))
    shown = describe(raw, h.p.rules.labels)
    unseen = [k.name for k in _kinds_set(_everything()) if not set(k.inspect) & set(shown)]
    assert unseen == [], f"tracker inspect does not show {unseen}"
    h.send(ev("consent", "anna", 60, analytics=False))
    marker = h.state("anna")
    assert marker is not None
    raw = h.store.get(h.p.customer_key(h.p.pseudonyms.of("anna")))
    shown = describe(raw, h.p.rules.labels)
    kept = [k.name for k in _kinds_set(marker) if not set(k.inspect) & set(shown)]
    assert kept == [], f"tracker inspect does not show what the marker keeps: {kept}"


def test_privacy_md_names_every_kind() -> None:
    table = _section("What is stored, where, and for how long")
    unnamed = [k.name for k in KINDS if f"**{k.name}**" not in table]
    assert unnamed == []


# --- topics ---------------------------------------------------------------------------


def _declared_topics() -> set[str]:
    settings = Settings(topic="touchpoint-events", worker_id="WORKER")
    names = {name for name, _, _ in tracker_topics(settings, 4)}
    app = faust.App(settings.worker_id, broker="kafka://127.0.0.1:1", store="memory://")
    topology = declare_topology(app, settings, 4)
    for field in dataclasses.fields(topology):
        declared = getattr(topology, field.name)
        topic = getattr(declared, "changelog_topic", declared)
        names.add(topic.get_topic_name())
    return {name.replace("WORKER", "<worker id>") for name in names}


def test_privacy_md_lists_every_topic_the_tracker_writes_and_no_other() -> None:
    table = _section("Topics")
    listed = set(re.findall(r"^\| `([^`]+)` \|", table, re.M))
    assert listed == _declared_topics()


def _section(heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## )", PRIVACY, re.S | re.M)
    assert match is not None, f"PRIVACY.md has no section {heading!r}"
    return match.group(1)


def test_inspect_shows_the_open_sessions_experiment_arm_and_load_time_rating() -> None:
    h = Harness()
    h.send(
        ev("page_view", "anna", 0, experiment="checkout-button", variant="green"),
        ev("web_vital", "anna", 1, name="LCP", value=1200, rating="good"),
    )
    raw = h.store.get(h.p.customer_key(h.p.pseudonyms.of("anna")))
    session = describe(raw, h.p.rules.labels)["open_session"]
    assert session["load_time_rating"] == "good"
    assert session["experiments"] == {
        "checkout-button": {"variant": "green", "first_seen": "2026-05-04T09:00:00+00:00"}
    }
