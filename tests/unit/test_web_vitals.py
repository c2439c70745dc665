"""Load times (docs/metrics.md#web-vitals): the web_vital event, its histogram, LCP classes.

Expected figures are worked out by hand in the comments: thresholds are Google's
(LCP 2.5 s / 4 s, INP 200 / 500 ms, CLS 0.1 / 0.25, FCP 1.8 / 3 s, TTFB 0.8 / 1.8 s).
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tests.unit.helpers import MIN, Harness, ev
from tracker.core.contract import parse_event
from tracker.core.customer import CustomerState, Session, decode_state, encode_state
from tracker.core.events import EventView
from tracker.core.identity_records import decode_view, encode_view
from tracker.core.vitals import Vital, bucket_of, first_lcp, rating

RATINGS = ("good", "needs-improvement", "poor")


def of(h: Harness, metric: str, **labels: str) -> float:
    """A sum over ``metric``'s samples with ``labels`` (``name`` is a label of the vitals)."""
    wanted = set(labels.items())
    return sum(v for n, lab, v in h.samples() if n == metric and wanted <= set(lab))


def vital(customer: str, at: float, name: str, value: float, **fields: Any) -> dict[str, Any]:
    return ev(
        "web_vital",
        customer,
        at,
        name=name,
        value=value,
        rating=fields.pop("rating", "good"),
        navigation_type=fields.pop("navigation_type", "navigate"),
        **fields,
    )


# --- contract -------------------------------------------------------------------------


def test_a_web_vital_as_the_snippet_sends_it_is_valid() -> None:
    event = parse_event(vital("ana", 0, "CLS", 0.0123, rating="good"))
    assert (event.event_type, event.name, event.value) == ("web_vital", "CLS", 0.0123)
    assert parse_event(vital("ana", 0, "LCP", 2500, navigation_type=None)).navigation_type is None


@pytest.mark.parametrize(
    "change",
    [
        {"value": -0.1},
        {"value": 3_600_000.5},
        {"value": "1200"},  # a number, never text
        {"value": True},
        {"name": "FID"},  # replaced by INP in 2024; not part of the contract
        {"rating": "ok"},
        {"navigation_type": "teleport"},
        {"value": None},
    ],
)
def test_out_of_contract_vitals_are_rejected(change: dict[str, Any]) -> None:
    event = {**vital("ana", 0, "LCP", 1200), **change}
    with pytest.raises(ValidationError):
        parse_event({k: v for k, v in event.items() if v is not None})


# --- rating and buckets ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("LCP", 2500, "good"),
        ("LCP", 2500.1, "needs-improvement"),
        ("LCP", 4000, "needs-improvement"),
        ("LCP", 4000.1, "poor"),
        ("INP", 200, "good"),
        ("INP", 501, "poor"),
        ("CLS", 0.1, "good"),
        ("CLS", 0.25, "needs-improvement"),
        ("CLS", 0.2501, "poor"),
        ("FCP", 1800, "good"),
        ("FCP", 3000.5, "poor"),
        ("TTFB", 800, "good"),
        ("TTFB", 1800, "needs-improvement"),
    ],
)
def test_rating_is_googles_at_the_thresholds(name: str, value: float, expected: str) -> None:
    assert RATINGS[rating(name, value)] == expected


@pytest.mark.parametrize(
    ("name", "value", "le"),
    [
        ("LCP", 0, "1.0"),
        ("LCP", 2500, "2.5"),  # a threshold is a bucket bound: p75 > 2.5 s is exact
        ("LCP", 2500.01, "3.0"),
        ("LCP", 4000, "4.0"),
        ("LCP", 10_000.5, "+Inf"),
        ("CLS", 0.1, "0.1"),
        ("CLS", 0.26, "0.5"),
        ("TTFB", 1800, "1.8"),
        ("INP", 2500, "+Inf"),
    ],
)
def test_buckets_are_exported_in_seconds(name: str, value: float, le: str) -> None:
    assert bucket_of(name, value) == le


def test_histogram_totals_worked_out_by_hand() -> None:
    h = Harness()
    # LCP on product: 1.2 s, 2.5 s, 3.9 s, 7.0 s. Cumulative: le 1.0: 0, 1.5: 1, 2.0: 1,
    # 2.5: 2, 3.0: 2, 4.0: 3, 6.0: 3, 10.0: 4, +Inf: 4; sum 14.6 s.
    for n, value in enumerate((1200, 2500, 3900, 7000)):
        h.send(vital(f"c{n}", n, "LCP", value, touchpoint="product:trail-runner"))
    h.send(vital("c9", 9, "CLS", 0.3, touchpoint="nowhere"))  # touchpoint label: other
    expected = {"1.0": 0, "1.5": 1, "2.0": 1, "2.5": 2, "3.0": 2, "4.0": 3, "6.0": 3}
    expected |= {"10.0": 4, "+Inf": 4}
    for le, n in expected.items():
        got = of(h, "tracker_web_vital_bucket", name="LCP", touchpoint="product", le=le)
        assert got == n, le
    assert of(h, "tracker_web_vital_count", name="LCP", touchpoint="product") == 4
    assert of(h, "tracker_web_vital_sum", name="LCP", touchpoint="product") == pytest.approx(14.6)
    # CLS 0.3: above 0.25, in the 0.5 bucket; the sum is unitless.
    assert of(h, "tracker_web_vital_bucket", name="CLS", touchpoint="other", le="0.25") == 0
    assert of(h, "tracker_web_vital_bucket", name="CLS", touchpoint="other", le="0.5") == 1
    assert of(h, "tracker_web_vital_sum", name="CLS", touchpoint="other") == pytest.approx(0.3)
    assert h.total("tracker_events_total", event_type="web_vital") == 5


# --- sessions ------------------------------------------------------------------------------


def test_a_vital_never_starts_a_session_but_counts_as_an_event_and_reach() -> None:
    h = Harness()
    h.send(vital("ana", 0, "TTFB", 300))
    assert h.state("ana") is not None and h.state("ana").session is None  # type: ignore[union-attr]
    h.close_all()
    assert h.total("tracker_sessions_started_total") == 0
    assert h.total("tracker_events_total", event_type="web_vital", channel="web") == 1
    assert of(h, "tracker_web_vital_count", name="TTFB") == 1


def test_a_vital_extends_an_open_session_like_a_ping() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0), vital("ana", 12, "CLS", 0.01))
    h.close_all()
    # One page view, no interaction: bounced; 12 s from first to last event: engaged.
    assert h.total("tracker_sessions_bounced_total") == 1
    assert h.total("tracker_sessions_engaged_total") == 1


def test_a_vital_after_the_gap_neither_extends_nor_starts_a_session() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0), vital("ana", 31 * MIN, "INP", 80))
    h.close_all()
    assert h.total("tracker_sessions_started_total") == 1
    assert h.total("tracker_sessions_engaged_total") == 0  # it did not stretch the session
    assert of(h, "tracker_web_vital_count", name="INP") == 1


def test_vitals_without_consent_count_nowhere() -> None:
    h = Harness()
    h.send(vital("ana", 0, "LCP", 2000, analytics=False))
    assert h.total("tracker_events_dropped_total", reason="no_consent") == 1
    assert of(h, "tracker_web_vital_count") == 0
    assert h.state("ana") is None


def test_a_retried_vital_counts_once() -> None:
    h = Harness()
    once = vital("ana", 0, "LCP", 2000)
    h.send(once, once)
    assert of(h, "tracker_web_vital_count") == 1
    assert h.total("tracker_events_dropped_total", reason="duplicate") == 1


def test_the_lcp_class_is_the_first_lcp_by_event_time_whatever_the_arrival() -> None:
    h = Harness()
    # ana: a poor LCP at 40 s arrives before the needs-improvement one of the landing page
    # at 10 s: the session is "needs-improvement". bob: a good LCP and an order: converted.
    h.send(ev("page_view", "ana", 0), vital("ana", 40, "LCP", 5000), vital("ana", 10, "LCP", 3000))
    h.send(ev("page_view", "bob", 0), vital("bob", 2, "LCP", 900), ev("order", "bob", 60))
    h.send(ev("page_view", "cy", 0, channel="app"))  # no LCP at all: unmeasured
    h.close_all()
    closed = {c: h.total("tracker_sessions_closed_by_lcp_total", lcp_class=c) for c in RATINGS}
    assert closed == {"good": 1, "needs-improvement": 1, "poor": 0}
    assert h.total("tracker_sessions_closed_by_lcp_total", lcp_class="unmeasured") == 1
    assert h.total("tracker_sessions_converted_by_lcp_total", lcp_class="good") == 1
    assert h.total("tracker_sessions_converted_by_lcp_total") == 1
    # Every closed session has exactly one class.
    assert h.total("tracker_sessions_closed_by_lcp_total") == h.total(
        "tracker_sessions_closed_total"
    )


def test_conversion_rate_by_lcp_class_per_window() -> None:
    h = Harness()
    # Two good sessions, one converted; one poor, not converted. Closed by the watermark.
    h.send(ev("page_view", "a", 0), vital("a", 1, "LCP", 1000), ev("order", "a", 20))
    h.send(ev("page_view", "b", 5), vital("b", 6, "LCP", 2400))
    h.send(ev("page_view", "c", 10), vital("c", 11, "LCP", 9000))
    h.idle_to(50 * MIN)
    assert h.gauge("tracker_sessions_closed_by_lcp_window", window="1h", lcp_class="good") == 2
    assert h.gauge("tracker_sessions_converted_by_lcp_window", window="1h", lcp_class="good") == 1
    assert h.gauge("tracker_conversion_rate_by_lcp", window="1h", lcp_class="good") == 0.5
    assert h.gauge("tracker_conversion_rate_by_lcp", window="1h", lcp_class="poor") == 0.0


# --- state -----------------------------------------------------------------------------------


def test_the_lcp_class_survives_the_row_and_old_rows_decode() -> None:
    session = Session(start_ms=1, last_ms=2, entry_channel=0, lcp_ms=2, lcp=2)
    row = encode_state(CustomerState(session=session, last_seen_ms=2), ("home", "other"))
    back = decode_state(row, ("home", "other")).session
    assert back is not None and (back.lcp_ms, back.lcp) == (2, 2)
    row[0] = row[0][:10]  # a session row written before load times were measured
    old = decode_state(row, ("home", "other")).session
    assert old is not None and (old.lcp_ms, old.lcp) == (-1, -1)


def test_merged_sessions_keep_the_earlier_lcp() -> None:
    early = Session(start_ms=0, last_ms=9, entry_channel=0, lcp_ms=5, lcp=2)
    late = Session(start_ms=0, last_ms=9, entry_channel=0, lcp_ms=7, lcp=0)
    none = Session(start_ms=0, last_ms=9, entry_channel=0)
    assert first_lcp(late, early) == (5, 2)
    assert first_lcp(early, late) == (5, 2)
    assert first_lcp(none, late) == (7, 0)
    assert first_lcp(late, none) == (7, 0)


def test_a_forwarded_vital_keeps_its_measurement() -> None:
    h = Harness()
    view = EventView("web_vital", 7, 1000, 0, 0, vital=Vital(2, 0.07))
    back = decode_view(h.p.rules.labels, encode_view(h.p.rules, view))
    assert back.vital == Vital(2, 0.07)
    assert decode_view(h.p.rules.labels, encode_view(h.p.rules, view)[:13]).vital is None
