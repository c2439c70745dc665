"""Identity stitching: holding a customer's events for the hand-over, and exactness of
the identity records (delivered twice, sent again after a restart) (docs/identity.md).

Same partitions as tests/unit/test_identity.py: anna 3, dev-anna 2, laptop-anna 1.
"""

from __future__ import annotations

import pytest

from tests.unit.helpers import DAY, config, ev, ms
from tests.unit.identity_cluster import Cluster
from tests.unit.test_crash import comparable
from tests.unit.test_identity import journey, per_channel_invariant, state
from tracker.core.identity_records import STREAM_IDENTITY, STREAM_INPUT
from tracker.core.identity_stage import IdentityStage
from tracker.core.identity_state import Outgoing


def login_flushed_with_the_next_page(c: Cluster) -> None:
    """The identify and the first page after login arrive before the hand-over lands.

    Carl's consent grant (the device's partition, 2) moves that partition's watermark past
    the identify: its claim is answered as soon as it lands.
    """
    c.send(ev("page_view", "dev-anna", 0, touchpoint="product"), ev("consent", "carl", 150))
    c.settle()
    c.send(
        ev("identify", "anna", 120, anonymous_id="dev-anna"),
        ev("page_view", "anna", 121, touchpoint="checkout"),
        batch=True,
    )
    assert c.in_flight  # the claim has not left yet


def test_the_first_page_after_login_waits_for_the_hand_over_and_starts_no_session() -> None:
    c = Cluster(auto=False)
    login_flushed_with_the_next_page(c)
    assert c.total("tracker_sessions_started_total") == 1  # the anonymous one only
    c.settle()
    assert c.total("tracker_sessions_started_total") == 1
    assert c.total("tracker_sessions_merged_total") == 0
    assert c.total("tracker_events_total", event_type="page_view") == 2
    c.close_all()
    product = c.total("tracker_journey_transitions_total", from_touchpoint="product")
    assert product == 1  # product -> checkout, one journey


def test_without_holding_the_same_arrival_gives_two_sessions_merged() -> None:
    c = Cluster(auto=False, cfg=config(identity_hold_events=0))
    login_flushed_with_the_next_page(c)
    c.settle()
    assert c.total("tracker_sessions_started_total") == 2
    assert c.total("tracker_sessions_merged_total") == 1
    assert per_channel_invariant(c) == {}


def test_held_events_are_released_when_the_watermark_passes_the_hold() -> None:
    c = Cluster(auto=False, cfg=config(identity_hold_timeout=30))
    login_flushed_with_the_next_page(c)
    c.in_flight.clear()  # the hand-over never comes
    c.send(ev("page_view", "anna", 130, touchpoint="cart"))  # held: the watermark is at 120
    assert c.total("tracker_events_total", event_type="page_view") == 1
    c.procs[3].tick(c.wall_ms + 61_000)  # the idle rule moves the watermark past 120 + 30 s
    assert c.total("tracker_events_total", event_type="page_view") == 3
    assert c.total("tracker_sessions_started_total") == 2


def test_an_event_past_the_hold_releases_it_first() -> None:
    c = Cluster(auto=False, cfg=config(identity_hold_timeout=30))
    login_flushed_with_the_next_page(c)
    c.send(ev("page_view", "anna", 200, touchpoint="cart"))  # the watermark passes 120 + 30 s
    assert c.total("tracker_events_total", event_type="page_view") == 3


def held(c: Cluster) -> list[int]:
    """``tracker_identity_held_events`` per partition: the index's count."""
    return [c.procs[p].held_events for p in range(c.partitions)]


def held_in_rows(c: Cluster) -> list[int]:
    """The same, counted in the rows themselves."""
    counts = []
    for p in range(c.partitions):
        rows = [c.procs[p].load_row(key) for key in list(c.stores[p].rows)]
        counts.append(
            sum(
                len(row.state.identity.held)
                for row in rows
                if row is not None and row.state is not None and row.state.identity is not None
            )
        )
    return counts


def test_the_held_events_gauge_follows_the_rows_through_hand_over_timeout_and_restart() -> None:
    c = Cluster(auto=False, cfg=config(identity_hold_timeout=30))
    login_flushed_with_the_next_page(c)
    c.send(ev("page_view", "anna", 125, touchpoint="cart"))
    assert held(c) == held_in_rows(c) == [0, 0, 0, 2]  # the page after login and this one
    c.restart(3)  # rebuilt from the restored rows
    assert held(c) == held_in_rows(c) == [0, 0, 0, 2]
    c.in_flight.clear()  # the hand-over never comes
    c.procs[3].tick(c.wall_ms + 61_000)  # the hold times out
    assert held(c) == held_in_rows(c) == [0, 0, 0, 0]
    c = Cluster(auto=False)
    login_flushed_with_the_next_page(c)
    assert held(c) == [0, 0, 0, 1]
    c.settle()  # the hand-over lands
    assert held(c) == held_in_rows(c) == [0, 0, 0, 0]


def test_by_default_a_hand_over_is_awaited_ten_minutes_of_event_time() -> None:
    c = Cluster(auto=False)
    login_flushed_with_the_next_page(c)
    c.send(ev("page_view", "anna", 9 * 60, touchpoint="cart"))  # a fast replay's clock
    assert c.total("tracker_events_total", event_type="page_view") == 1  # still held
    c.settle()
    assert c.total("tracker_sessions_started_total") == 1
    assert c.total("tracker_sessions_merged_total") == 0


def test_a_full_hold_releases_everything_in_event_time_order() -> None:
    c = Cluster(auto=False, cfg=config(identity_hold_events=2))
    login_flushed_with_the_next_page(c)
    c.send(ev("page_view", "anna", 125), ev("page_view", "anna", 122, touchpoint="cart"))
    assert c.total("tracker_events_total", event_type="page_view") == 4
    anna = state(c, "anna")
    assert anna is not None and anna.session is not None
    assert [s.at_ms for s in anna.session.steps] == [ms(121), ms(122), ms(125)]


@pytest.mark.parametrize("hold", [50, 0])
@pytest.mark.parametrize("reply_first", [False, True])
def test_a_held_reply_counts_as_it_would_unheld(hold: int, reply_first: bool) -> None:
    """A reply counts when its ticket's contact arrived first, whatever the clocks say
    (the helpdesk's, or a batch's sent_at correction): held for a hand-over or not."""
    c = Cluster(auto=False, cfg=config(identity_hold_events=hold))
    login_flushed_with_the_next_page(c)
    contact = ev("support_contact", "anna", 130)
    if reply_first:  # timed after the contact, arrived before it: dropped
        c.send(ev("support_reply", "anna", 130.5, analytics=False), contact, batch=True)
    else:  # timed 0.2 s before the contact, arrived after it: counted
        c.send(contact, ev("support_reply", "anna", 129.8, analytics=False), batch=True)
    held = c.total("tracker_events_total", event_type="support_contact") == 0
    assert held == (hold > 0)
    c.settle()
    assert c.total("tracker_events_total", event_type="support_contact") == 1
    assert c.total("tracker_events_total", event_type="support_reply") == (not reply_first)
    assert c.total("tracker_events_dropped_total", reason="no_consent") == reply_first
    assert c.total("tracker_support_first_response_seconds_count") == (not reply_first)


def test_a_claim_waits_for_the_devices_own_earlier_events() -> None:
    """The device's partition lags behind the identity topic (after a restart, say): its
    events from before the login still come first, as in event-time order."""
    c = Cluster(auto=False)
    c.send(
        ev("identify", "anna", 120, anonymous_id="dev-anna"),
        ev("page_view", "anna", 121, touchpoint="checkout"),
        batch=True,
    )
    c.settle()
    device = state(c, "dev-anna")
    assert device is not None and device.identity is not None and len(device.identity.waiting) == 1
    assert c.total("tracker_identity_links_total") == 0
    c.send(ev("page_view", "dev-anna", 0, touchpoint="product"), ev("page_view", "dev-anna", 60))
    c.send(ev("consent", "carl", 150))  # the device's partition reaches the identify's time
    c.settle()
    assert c.total("tracker_identity_links_total") == 1
    assert c.total("tracker_events_forwarded_total") == 0  # they were the device's own
    assert c.total("tracker_sessions_started_total") == 1
    assert c.total("tracker_sessions_merged_total") == 0
    c.close_all()
    assert c.total("tracker_journey_transitions_total", from_touchpoint="product") == 1


# --- records --------------------------------------------------------------------------------


def test_records_carry_pseudonyms_and_codes_never_raw_ids_or_comments() -> None:
    c = Cluster(auto=False)
    c.send(ev("page_view", "dev-anna", 0), ev("consent", "carl", 100))
    c.settle()
    c.send(ev("identify", "anna", 60, anonymous_id="dev-anna"))
    seen = []
    while c.in_flight:
        seen += [f.send.value + f.send.key for f in c.in_flight]
        c.deliver()
        c.consume()
    c.send(ev("feedback", "dev-anna", 90, comment="good stuff", language="en", nps=10))
    seen += [f.send.value + f.send.key for f in c.in_flight]
    blob = b"".join(seen)
    assert len(seen) >= 3  # claim, reply, forward
    for raw in (b"anna", b"dev-anna", b"good stuff", b"page_view"):
        assert raw not in blob, raw
    c.settle()
    assert c.total("tracker_feedback_sentiment_total", polarity="positive") == 1


@pytest.mark.parametrize("story", ["journey", "erase", "two_devices"])
def test_every_record_delivered_twice_is_applied_once(story: str) -> None:
    def play(c: Cluster) -> None:
        if story == "two_devices":
            c.send(ev("page_view", "anna", 0, channel="app"), ev("page_view", "laptop-anna", 9))
            c.send(ev("identify", "anna", 300, anonymous_id="laptop-anna"))
            c.quiet()  # the claim waits for the device's partition to reach its time
            c.send(ev("page_view", "laptop-anna", 400))
            return
        journey(c)
        c.send(ev("page_view", "dev-anna", 300))
        if story == "erase":
            c.erase("anna", ms(400))
            c.send(ev("page_view", "dev-anna", 500))

    once, twice = Cluster(), Cluster()
    play(once)
    original = twice.deliver

    def deliver_twice(count: int | None = None) -> int:
        copies = list(twice.in_flight)
        n = original(count)
        for flight in copies[:n]:
            twice.logs[flight.send.partition].append(flight.send.value)
        return n

    twice.deliver = deliver_twice  # type: ignore[method-assign]
    play(twice)
    once.close_all()
    twice.close_all()
    assert comparable(twice.samples()) == comparable(once.samples())


def test_a_restart_sends_every_kept_record_again_and_each_is_applied_once() -> None:
    c, reference = Cluster(), Cluster()
    for cluster in (c, reference):
        journey(cluster)
    assert c.stores[2].rows and state(c, "dev-anna").identity.out
    for p in range(c.partitions):
        c.restart(p)  # no housekeeping yet: every row's records go out again
    c.settle()
    assert c.total("tracker_identity_links_total") == 1
    c.close_all()
    reference.close_all()
    assert comparable(c.samples()) == comparable(reference.samples())


def test_acknowledged_records_leave_the_rows_at_the_next_housekeeping() -> None:
    c = Cluster()
    journey(c)
    anon = state(c, "dev-anna")
    assert anon is not None and anon.identity is not None and anon.identity.out  # the reply
    c.tick(c.wall_ms + 1000)
    anon = state(c, "dev-anna")
    assert anon is not None and anon.identity is not None and anon.identity.out == []


def test_records_a_restart_sent_again_leave_the_rows_once_acknowledged() -> None:
    c = Cluster()
    journey(c)
    for p in range(c.partitions):
        c.restart(p)  # the kept records are known again from the restored rows alone
    c.settle()
    c.tick(c.wall_ms + 1000)
    anon = state(c, "dev-anna")
    assert anon is not None and anon.identity is not None and anon.identity.out == []


def test_housekeeping_reads_only_rows_whose_records_were_acknowledged() -> None:
    stage = IdentityStage(partition=0)
    for offset, row in [(7, "b"), (3, "a"), (9, "c"), (5, "a")]:
        stage.keep(Outgoing(0, STREAM_INPUT, offset, 1, "x", []), row)
    stage.keep(Outgoing(1, STREAM_IDENTITY, 2, 1, "x", []), "d")
    assert stage.acknowledged_rows(100) == []  # nothing acknowledged: no row read
    assert stage.keeps_records()
    assert stage.unacknowledged_records() == 5
    stage.acknowledged(STREAM_INPUT, 7)
    assert stage.unacknowledged_records() == 5  # until housekeeping drops them
    assert stage.acknowledged_rows(1) == ["a"]  # within the budget, by offset
    assert stage.acknowledged_rows(100) == ["b"]  # "a" once, though it kept two records
    assert stage.acknowledged_rows(100) == []
    stage.acknowledged(STREAM_IDENTITY, 2)
    stage.acknowledged(STREAM_INPUT, 9)
    assert sorted(stage.acknowledged_rows(100)) == ["c", "d"]
    assert not stage.keeps_records()
    assert stage.unacknowledged_records() == 0


def test_the_entry_channel_taken_by_an_earlier_event_counts_as_a_start_and_a_merge() -> None:
    c = Cluster()
    c.send(ev("page_view", "anna", 100, channel="app"), ev("page_view", "anna", 0))
    assert c.total("tracker_sessions_started_total", channel="app") == 1
    assert c.total("tracker_sessions_started_total", channel="web") == 1
    assert c.total("tracker_sessions_merged_total", channel="app") == 1
    c.close_all()
    assert c.total("tracker_sessions_closed_total", channel="web") == 1
    assert per_channel_invariant(c) == {}


def test_a_linked_device_stays_linked_while_used_and_expires_with_its_customer() -> None:
    c = Cluster()
    journey(c)
    key = c.procs[2].customer_key(c.cfg.pseudonyms.of("dev-anna"))
    c.tick(ms(89 * DAY))
    assert key in c.stores[2].rows
    c.tick(ms(91 * DAY))
    assert key not in c.stores[2].rows
    assert state(c, "anna") is None
