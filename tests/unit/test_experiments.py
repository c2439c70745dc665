"""Live experiments (docs/metrics.md#experiments): the pair on the wire, a session's variant,
the counters, and the statistics read off them.

Expected figures are worked out by hand in the comments.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.unit.helpers import MIN, Harness, ev
from tests.unit.identity_cluster import Cluster
from tracker.core.bounds import rule_of
from tracker.core.contract import parse_event
from tracker.core.customer import CustomerState, Session, decode_state, encode_state
from tracker.core.experiment_stats import p_value, sample_size
from tracker.core.experiments import Seen, merge, note, parse_allow_list
from tracker.errors import ConfigError
from tracker.metrics.samples import total
from tracker.settings import load_settings

TEST = "checkout-button"  # the default allow-list: control, green, blue


def seen(customer: str, at: float, variant: str, kind: str = "page_view", **f: Any) -> Any:
    return ev(kind, customer, at, experiment=TEST, variant=variant, **f)


# --- contract and allow-list -----------------------------------------------------------------


def test_a_pair_is_valid_on_any_event() -> None:
    for kind in ("page_view", "interaction", "page_ping", "order", "web_vital"):
        event = parse_event(seen("ana", 0, "green", kind))
        assert (event.experiment, event.variant) == (TEST, "green")


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"experiment": TEST}, "invalid:variant"),
        ({"variant": "green"}, "invalid:experiment"),
        ({"experiment": "Checkout Button", "variant": "green"}, "invalid:experiment"),
        ({"experiment": TEST, "variant": "g" * 65}, "invalid:variant"),
        ({"experiment": TEST, "variant": ""}, "invalid:variant"),
    ],
)
def test_a_lone_or_malformed_name_is_rejected_with_its_rule(
    change: dict[str, str], rule: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_event(ev("page_view", "ana", 0, **change))
    assert rule_of(caught.value.errors()[0]) == rule


def test_a_lone_name_goes_to_the_dead_letters_with_its_reason() -> None:
    h = Harness()
    [letter] = h.send(ev("page_view", "ana", 0, experiment=TEST))
    assert letter.reason == "invalid_event"
    assert "variant is missing" in letter.detail


def test_the_allow_list_is_parsed_control_first() -> None:
    spec = " checkout-button:control|green|blue , free-shipping:off|on "
    assert parse_allow_list(spec) == (
        ("checkout-button", ("control", "green", "blue")),
        ("free-shipping", ("off", "on")),
    )
    assert parse_allow_list("") == ()


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("checkout-button", "is not name:control|variant"),
        ("a:control", "a control and 1 to 3 variants"),
        ("a:c|v1|v2|v3|v4", "a control and 1 to 3 variants"),
        ("a:c|v,a:c|w", "listed twice"),
        ("a:c|c", "lists a variant twice"),
        ("Big Test:c|v", "names are 1-64 of a-z 0-9"),
        (",".join(f"e{i}:c|v" for i in range(9)), "at most 8 experiments"),
    ],
)
def test_a_bad_allow_list_stops_the_start_saying_what_to_fix(spec: str, says: str) -> None:
    with pytest.raises(ConfigError, match="TRACKER_EXPERIMENTS") as caught:
        load_settings(experiments=spec)
    assert says in str(caught.value)


# --- sessions and counters -------------------------------------------------------------------


def test_sessions_count_under_the_first_variant_by_event_time() -> None:
    h = Harness()
    # ana: green at 60 s arrives before control at 0 s: her session is control's; she buys.
    h.send(seen("ana", 60, "green"), seen("ana", 0, "control"), seen("ana", 90, "green", "order"))
    # bob: a page without the pair, then blue on an interaction: blue, not converted.
    h.send(ev("page_view", "bob", 0), seen("bob", 30, "blue", "interaction"))
    # cy: no pair at all; dee: an unlisted variant and an unlisted experiment: not counted.
    h.send(ev("page_view", "cy", 0), ev("order", "cy", 10))
    h.send(seen("dee", 0, "purple"), ev("page_view", "dee", 5, experiment="x", variant="y"))
    h.close_all()
    sessions = {
        v: h.total("tracker_experiment_sessions_total", variant=v)
        for v in ("control", "green", "blue")
    }
    assert sessions == {"control": 1, "green": 0, "blue": 1}
    assert h.total("tracker_experiment_conversions_total", experiment=TEST) == 1
    assert h.total("tracker_experiment_conversions_total", variant="control") == 1
    assert h.total("tracker_sessions_closed_total") == 4  # the pair changes nothing else


def test_every_arrival_order_gives_the_same_variant() -> None:
    events = [seen("ana", 20, "blue"), seen("ana", 5, "green"), seen("ana", 5, "blue", "page_ping")]
    for order in itertools.permutations(events):
        h = Harness()
        h.send(ev("page_view", "ana", 0), *order)
        h.close_all()
        # The earliest (5 s) wins; on its tie, the smaller name: blue before green.
        assert h.total("tracker_experiment_sessions_total", variant="blue") == 1
        assert h.total("tracker_experiment_sessions_total") == 1


def test_a_session_counts_in_each_experiment_it_saw() -> None:
    h = Harness(experiments="checkout-button:control|green,free-shipping:off|on")
    h.send(
        seen("ana", 0, "green"), ev("page_view", "ana", 9, experiment="free-shipping", variant="on")
    )
    h.send(ev("order", "ana", 20))
    h.close_all()
    assert h.total("tracker_experiment_sessions_total", experiment=TEST, variant="green") == 1
    assert (
        h.total("tracker_experiment_conversions_total", experiment="free-shipping", variant="on")
        == 1
    )


def test_a_withdrawal_discards_the_open_session_uncounted() -> None:
    h = Harness()
    h.send(seen("ana", 0, "green"), ev("order", "ana", 10))
    h.send(ev("consent", "ana", 20, analytics=False))
    h.close_all()
    assert h.total("tracker_experiment_sessions_total") == 0


def test_without_consent_nothing_counts() -> None:
    h = Harness()
    h.send(seen("ana", 0, "green", analytics=False))
    h.close_all()
    assert h.total("tracker_experiment_sessions_total") == 0


def test_the_variants_survive_the_row_and_old_rows_decode() -> None:
    pairs = [Seen(5, TEST, "green"), Seen(7, "free-shipping", "on")]
    session = Session(start_ms=1, last_ms=9, entry_channel=0, experiments=pairs)
    row = encode_state(CustomerState(session=session, last_seen_ms=9), ("home", "other"))
    back = decode_state(row, ("home", "other")).session
    assert back is not None and back.experiments == pairs
    assert (back.lcp, back.last_order_ms, back.support) == (-1, -1, None)
    row[0] = row[0][:10]  # a session row written before experiments
    old = decode_state(row, ("home", "other")).session
    assert old is not None and old.experiments is None


@given(
    st.lists(
        st.tuples(st.integers(0, 50), st.sampled_from(("a", "b")), st.sampled_from("cgv")),
        max_size=8,
    )
)
def test_merging_two_halves_equals_one_session_of_all_their_events(
    events: list[tuple[int, str, str]],
) -> None:
    def fold(part: list[tuple[int, str, str]]) -> list[Seen] | None:
        result: list[Seen] | None = None
        for at, name, variant in part:
            result = note(result, (name, variant), at)
        return result

    for cut in range(len(events) + 1):
        merged = merge(fold(events[:cut]), fold(events[cut:]))
        assert sorted(merged or []) == sorted(fold(events) or [])


def test_gauges_worked_out_by_hand() -> None:
    h = Harness()
    # control: 4 sessions, 1 converted (25 %); green: 2 sessions, 2 converted (100 %).
    for i in range(4):
        h.send(seen(f"c{i}", i, "control"), *([ev("order", f"c{i}", 30 + i)] if i == 0 else []))
    for i in range(2):
        h.send(seen(f"g{i}", i, "green"), ev("order", f"g{i}", 40 + i))
    h.idle_to(50 * MIN)
    assert h.gauge("tracker_experiment_conversion_rate", variant="control") == 0.25
    assert h.gauge("tracker_experiment_conversion_rate", variant="green") == 1.0
    assert math.isnan(h.gauge("tracker_experiment_conversion_rate", variant="blue"))
    # pooled 3/6 = 0.5; se = sqrt(0.25 * (1/4 + 1/2)) = 0.4330; z = 0.75 / 0.4330 = 1.7321;
    # p = 2 * (1 - Phi(1.7321)) = 0.0833.
    assert h.gauge("tracker_experiment_p_value", variant="green") == pytest.approx(0.0833, abs=1e-4)
    assert math.isnan(h.gauge("tracker_experiment_p_value", variant="blue"))
    assert not [
        s
        for s in h.samples()
        if s[0] == "tracker_experiment_p_value" and ("variant", "control") in s[1]
    ]
    # baseline 0.25, lifted by 10 % to 0.275: n = (1.95996 sqrt(2 * 0.2625 * 0.7375)
    # + 0.84162 sqrt(0.25 * 0.75 + 0.275 * 0.725))^2 / 0.025^2 = 4861.2, so 4862.
    assert h.gauge("tracker_experiment_sample_size", experiment=TEST) == 4862


# --- statistics ------------------------------------------------------------------------------


def test_p_value_against_a_hand_computed_figure() -> None:
    # control 100/1000, variant 130/1000: pooled 0.115, se = sqrt(0.115 * 0.885 * 0.002)
    # = 0.014267, z = 0.03 / 0.014267 = 2.1027, p = 2 * (1 - Phi(2.1027)) = 0.03549.
    assert p_value(100, 1000, 130, 1000) == pytest.approx(0.03549, abs=1e-5)
    assert math.isnan(p_value(0, 0, 1, 10))
    assert p_value(0, 10, 0, 20) == 1.0 and p_value(5, 5, 9, 9) == 1.0


def test_sample_size_against_the_textbook_figure() -> None:
    # 10 % baseline, 10 % relative lift (to 11 %), alpha 0.05, power 0.8: 14,751 per arm.
    assert sample_size(0.10, 0.10) == 14751
    assert math.isnan(sample_size(0.0, 0.1)) and math.isnan(sample_size(0.95, 0.1))


counts = st.integers(1, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@given(counts, counts)
def test_p_value_is_a_probability_and_symmetric(
    control: tuple[int, int], variant: tuple[int, int]
) -> None:
    p = p_value(*control, *variant)
    assert 0.0 <= p <= 1.0
    assert p == pytest.approx(p_value(*variant, *control))


@given(st.floats(0.001, 0.5), st.floats(0.05, 1.0))
def test_a_smaller_effect_needs_more_sessions(baseline: float, mde: float) -> None:
    assert sample_size(baseline, mde / 2) > sample_size(baseline, mde)


def test_an_event_forwarded_or_held_for_a_stitched_customer_keeps_its_pair() -> None:
    # dev-anna's first tagged page arrives after the login: it is held on anna's partition
    # while the hand-over is under way, or forwarded from the device's partition once
    # linked. Either way it reaches anna's session with its pair (green).
    c = Cluster()
    c.send(ev("identify", "anna", 0, anonymous_id="dev-anna"))
    c.send(ev("consent", "carl", 5))  # other traffic moves dev-anna's partition past 0 s
    c.send(seen("dev-anna", 10, "green"))  # under the device id, after the link: forwarded
    c.send(seen("anna", 20, "blue", "order"))
    c.close_all()
    s = c.samples()
    assert total(s, "tracker_experiment_sessions_total", variant="green") == 1
    assert total(s, "tracker_experiment_conversions_total", variant="green") == 1
    assert total(s, "tracker_experiment_sessions_total") == 1


def test_each_experiment_names_its_control_for_the_recording_rules() -> None:
    h = Harness()  # no event yet: the allow-list alone says which variant is the control
    info = [s for s in h.samples() if s[0] == "tracker_experiment_control_info"]
    assert [(dict(s[1]), s[2]) for s in info] == [({"experiment": TEST, "variant": "control"}, 1.0)]
