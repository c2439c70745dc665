"""A linked device's events outside its own session: the same totals on either side of the claim.

Kafka may deliver a device's event to its partition before or after the claim of an
identify on another partition. Before, the event starts a session of the device's own
that merges into the customer's at the hand-over; after, it is forwarded with the mark
``apart`` and does the same on the customer's partition (docs/identity.md#exactness).
Ids as in test_identity: anna on partition 3, dev-anna on 2.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.unit.helpers import ev
from tests.unit.identity_cluster import Cluster
from tracker.core.events import EventView
from tracker.core.identity import device_session
from tracker.core.identity_records import decode_view, encode_view
from tracker.core.identity_state import (
    LINKED,
    IdentityState,
    Link,
    decode_identity,
    encode_identity,
)
from tracker.core.sessionizer import Rules

MIN = 60_000
GAP = 30 * MIN
RULES = Rules(labels=Cluster().cfg.rules.labels, gap_ms=GAP)


def _device_first(c: Cluster, device_event: dict[str, object]) -> None:
    """The device's event reaches its partition before the claim does."""
    c.send(ev("page_view", "anna", 0))
    c.send(device_event)
    c.send(ev("identify", "anna", 60, anonymous_id="dev-anna"))
    c.quiet()  # the claim waits for the device's partition to reach its time


def _linked(c: Cluster) -> None:
    """Two quiet minutes: the device's partition has no input, so the first starts its idle
    clock and the second moves its watermark past the identify, which answers the claim."""
    c.quiet()
    c.quiet()


def _claim_first(c: Cluster, device_event: dict[str, object]) -> None:
    """The claim is answered first: the device's event arrives under a linked id."""
    c.send(ev("page_view", "anna", 0), ev("identify", "anna", 60, anonymous_id="dev-anna"))
    _linked(c)
    c.send(device_event)


SESSION_COUNTERS = (
    "tracker_sessions_started_total",
    "tracker_sessions_merged_total",
    "tracker_sessions_active",
    "tracker_sessions_closed_total",
    "tracker_sessions_engaged_total",
    "tracker_sessions_discarded_total",
)


def _totals(
    order: Callable[[Cluster, dict[str, object]], None], device: dict[str, object]
) -> dict[str, float]:
    c = Cluster()
    order(c, device)
    open_ = {name: c.total(name) for name in SESSION_COUNTERS}
    c.close_all()
    closed = {f"{name} (all closed)": c.total(name) for name in SESSION_COUNTERS}
    by_lcp = {
        f"lcp {cls}": c.total("tracker_sessions_closed_by_lcp_total", lcp_class=cls)
        for cls in ("good", "unmeasured")
    }
    # Not tracker_events_forwarded_total: whether an event arrived under a linked id is
    # exactly what the order changes.
    return {**open_, **closed, **by_lcp, "links": c.total("tracker_identity_links_total")}


def test_a_device_page_after_the_link_starts_its_own_session_that_merges() -> None:
    page = ev("page_view", "dev-anna", 120, touchpoint="product")
    device_first = _totals(_device_first, page)
    assert device_first["tracker_sessions_started_total"] == 2
    assert device_first["tracker_sessions_merged_total"] == 1
    assert device_first["tracker_sessions_active"] == 1
    assert device_first["links"] == 1
    assert _totals(_claim_first, page) == device_first


def test_a_device_vital_outside_any_session_of_the_device_measures_none() -> None:
    vital = ev("web_vital", "dev-anna", 120)
    device_first = _totals(_device_first, vital)
    assert device_first["lcp good"] == 0  # the customer's session was not the page it measured
    assert device_first["lcp unmeasured"] == 1
    assert device_first["tracker_sessions_started_total"] == 1
    assert _totals(_claim_first, vital) == device_first


@pytest.mark.parametrize("page_at", [0, 62])  # before the login; just after the vital
def test_the_customers_vital_before_the_devices_late_page_still_measures_that_visit(
    page_at: int,
) -> None:
    """The visit's page was the device's, the customer's vital came after the login."""
    page, vital = ev("page_view", "dev-anna", page_at), ev("web_vital", "anna", 61)
    identify = ev("identify", "anna", 60, anonymous_id="dev-anna")

    def page_first(c: Cluster, _: dict[str, object]) -> None:
        c.send(page)
        c.send(identify, vital)
        c.quiet()

    def vital_first(c: Cluster, _: dict[str, object]) -> None:
        c.send(identify)
        _linked(c)
        c.send(vital)  # no session yet: it waits for a page that forms one
        c.send(page)

    expected = _totals(page_first, page)
    assert expected["lcp good"] == 1
    assert expected["tracker_sessions_started_total"] == 1
    assert _totals(vital_first, page) == expected


def test_a_device_page_within_its_handed_over_session_joins_without_a_merge() -> None:
    c = Cluster()
    c.send(ev("page_view", "dev-anna", 0), ev("identify", "anna", 60, anonymous_id="dev-anna"))
    c.quiet()
    c.send(ev("page_view", "dev-anna", 120))  # another tab of the same visit
    assert c.total("tracker_events_forwarded_total") == 1
    assert c.total("tracker_sessions_started_total") == 1
    assert c.total("tracker_sessions_merged_total") == 0


def _view(event_type: str, at_ms: int) -> EventView:
    return EventView(event_type, 1, at_ms, 0, 0)


def test_the_devices_own_session_is_followed_by_the_sessionizers_bounds() -> None:
    page, vital = _view("page_view", 0), _view("web_vital", 0)
    assert device_session(RULES, None, page) == (True, (0, 0))
    assert device_session(RULES, None, vital) == (True, None)  # never starts one
    within = _view("page_view", 10 * MIN)
    assert device_session(RULES, (0, 5 * MIN), within) == (False, (0, 10 * MIN))
    after = _view("page_view", 5 * MIN + GAP + 1)
    assert device_session(RULES, (0, 5 * MIN), after) == (True, (after.at_ms, after.at_ms))
    # Long before the session: late for it; the customer's session decides, as before.
    before = _view("page_view", -GAP - 1)
    assert device_session(RULES, (0, 5 * MIN), before) == (False, (0, 5 * MIN))
    for kind in ("consent", "identify"):  # never in a session
        assert device_session(RULES, None, _view(kind, 0)) == (False, None)


def test_the_mark_and_the_span_survive_their_codecs_and_older_forms_read_without_them() -> None:
    view = _view("page_view", 5)
    plain = encode_view(RULES, view)
    assert decode_view(RULES.labels, plain).apart_claim == -1
    marked = encode_view(RULES, view.with_claim(7))
    assert marked == [*plain, 7]  # unmarked events encode exactly as before
    assert decode_view(RULES.labels, marked).apart_claim == 7
    stub = IdentityState(linked_to="p", linked_partition=1, own_session=(3, 9))
    assert decode_identity(encode_identity(stub)).own_session == (3, 9)
    assert decode_identity(encode_identity(stub)[:10]).own_session is None
    customer = IdentityState(links=[Link("a", 1, 5, LINKED, 9)], alone=[5])
    encoded = encode_identity(customer)
    assert encoded[3] == [["a", 1, 5, LINKED, 9]]  # links as before: an older version reads it
    assert encoded[10:] == [None, [], [5]]
    assert decode_identity(encoded).alone == [5]
    assert len(encode_identity(IdentityState(links=customer.links))) == 10


def _ordered(*steps: Callable[[Cluster], None]) -> dict[str, float]:
    """Totals once the link is made and ``steps`` ran in this order."""

    def play(c: Cluster, _: dict[str, object]) -> None:
        c.send(ev("identify", "anna", 60, anonymous_id="dev-anna"))
        _linked(c)
        for step in steps:
            step(c)

    return _totals(play, {})


def _send(event: dict[str, object]) -> Callable[[Cluster], None]:
    return lambda c: c.send(event)


def test_kept_pings_and_vitals_join_the_devices_page_in_event_time_order() -> None:
    at = 100 * MIN // 1000  # seconds after T0
    page = _send(ev("page_view", "dev-anna", at))
    vital = _send(ev("web_vital", "anna", at - 20 * 60))
    ping = _send(ev("page_ping", "anna", at - 10 * 60, channel="app"))
    page_first = _ordered(page, vital, ping)
    assert page_first["tracker_sessions_started_total"] == 1
    assert page_first["lcp good"] == 1
    assert _ordered(vital, ping, page) == page_first


def test_a_device_ping_brings_no_kept_ping_into_the_customers_own_session() -> None:
    kept = _send(ev("page_ping", "anna", 10 * 60, channel="app"))  # no session: kept
    own_page = _send(ev("page_view", "anna", 20 * 60))
    device_ping = _send(ev("page_ping", "dev-anna", 25 * 60))
    ping_last = _ordered(kept, own_page, device_ping)
    assert ping_last["tracker_sessions_started_total"] == 1
    assert _ordered(kept, device_ping, own_page) == ping_last


def test_only_the_session_after_a_hand_over_that_found_none_is_joined() -> None:
    """Two days after the link the device comes back beside the customer's app session:
    a session of the device's own that merges, whether or not the customer had a session
    when the hand-over landed."""
    day = 86_400

    def merged(customer_had_a_session: bool) -> float:
        c = Cluster()
        if customer_had_a_session:
            c.send(ev("page_view", "anna", 0, channel="app"))
        c.send(ev("identify", "anna", 60, anonymous_id="dev-anna"))
        _linked(c)
        c.send(ev("page_view", "anna", 2 * day, channel="app"))
        c.send(ev("page_view", "dev-anna", 2 * day + 300))
        return c.total("tracker_sessions_merged_total")

    assert merged(customer_had_a_session=True) == 1
    assert merged(customer_had_a_session=False) == 1


def test_a_second_devices_late_page_merges_into_the_session_the_first_device_brought() -> None:
    """The app's login lands first and finds no session; the laptop's brings one; the
    app's own page reaches the customer only then: it starts its own session and merges,
    as when it came with the app's hand-over."""
    app = ev("page_view", "dev-anna", 30, channel="app")

    def totals(app_first: bool) -> dict[str, float]:
        c = Cluster()
        c.send(ev("page_view", "laptop-anna", 0), *([app] if app_first else []))
        c.send(ev("identify", "anna", 31, anonymous_id="dev-anna"))
        _linked(c)
        c.send(ev("identify", "anna", 60, anonymous_id="laptop-anna"))
        _linked(c)
        if not app_first:
            c.send(app)
        return {
            f"{name}{{{channel}}}": c.total(name, channel=channel)
            for name in ("tracker_sessions_started_total", "tracker_sessions_merged_total")
            for channel in ("web", "app")
        }

    expected = totals(app_first=True)
    assert expected["tracker_sessions_merged_total{app}"] == 1
    assert totals(app_first=False) == expected
