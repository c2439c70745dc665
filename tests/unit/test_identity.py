"""Identity stitching, worked by hand (docs/identity.md).

Four partitions; the ids below land on these (Kafka's partitioner), so every link
crosses partitions: anna 3, dev-anna 2, laptop-anna 1, bob 2, carl 2, dev-carl 1.
Times are seconds after T0; the session gap is 30 minutes.
"""

from __future__ import annotations

from tests.unit.helpers import MIN, T0_MS, config, encode, ev, ms
from tests.unit.identity_cluster import Cluster
from tracker.core.bounds import LATEST_MS
from tracker.core.contract import CHANNELS
from tracker.core.customer import CustomerState
from tracker.core.dedup import DEDUP_IDS
from tracker.core.identity_state import LINKED
from tracker.core.rows import row_state
from tracker.metrics.samples import total
from tracker.testing.reference import ReferencePipeline


def journey(c: Cluster) -> None:
    """The issue's story: anonymous product and cart, log in, checkout, order."""
    c.send(
        ev("page_view", "dev-anna", 0, touchpoint="product"),
        ev("interaction", "dev-anna", 60, touchpoint="cart", action="add_to_cart"),
        ev("identify", "anna", 120, anonymous_id="dev-anna", touchpoint="account"),
        ev("page_view", "anna", 180, touchpoint="checkout"),
        ev("order", "anna", 240, touchpoint="checkout"),
    )
    c.quiet()  # the claim waits for the device's partition to reach its time


def state(c: Cluster, customer: str) -> CustomerState | None:
    proc = c.procs[c.partition_of(customer)]
    row = proc.customer_row(customer)
    if row is None or row.get("s") is None:
        return None
    return row_state(row, proc.rules.labels.touchpoints)


def per_channel_invariant(c: Cluster) -> dict[str, tuple[float, float]]:
    """started vs closed + active + merged + discarded, for every channel that differs."""
    samples = c.samples()
    out = {}
    for channel in CHANNELS:
        started = total(samples, "tracker_sessions_started_total", channel=channel)
        ended = sum(
            total(samples, name, channel=channel)
            for name in (
                "tracker_sessions_closed_total",
                "tracker_sessions_active",
                "tracker_sessions_merged_total",
                "tracker_sessions_discarded_total",
            )
        )
        if started != ended:
            out[channel] = (started, ended)
    return out


def test_the_ids_cross_partitions() -> None:
    c = Cluster()
    parts = {n: c.partition_of(n) for n in ("anna", "dev-anna", "laptop-anna", "bob", "dev-carl")}
    assert parts == {"anna": 3, "dev-anna": 2, "laptop-anna": 1, "bob": 2, "dev-carl": 1}


def test_browsing_anonymously_then_ordering_logged_in_is_one_person_one_session() -> None:
    c = Cluster()
    journey(c)
    assert c.total("tracker_sessions_started_total") == 1
    assert c.total("tracker_sessions_active") == 1
    assert c.total("tracker_reach", window="1h", channel="all") == 1
    assert c.total("tracker_reach", window="1h", channel="web") == 1
    assert c.total("tracker_events_total") == 5
    assert c.total("tracker_events_total", event_type="identify") == 1
    assert c.total("tracker_identity_links_total") == 1
    c.close_all()
    assert c.total("tracker_sessions_closed_total") == 1
    assert c.total("tracker_sessions_converted_total") == 1
    assert c.total("tracker_sessions_merged_total") == 0
    for step in ("product", "cart", "checkout", "order"):
        assert c.total("tracker_funnel_sessions_total", step=step) == 1, step
    transitions = c.total("tracker_journey_transitions_total", from_touchpoint="product")
    assert transitions == 1
    assert c.total("tracker_session_exits_total", touchpoint="checkout") == 1
    assert per_channel_invariant(c) == {}


def test_the_anonymous_row_becomes_a_stub_and_the_customer_lists_the_link() -> None:
    c = Cluster()
    journey(c)
    anon = state(c, "dev-anna")
    assert anon is not None and anon.identity is not None
    assert anon.session is None and anon.last_seen_ms == -1 and anon.seen_ids == {}
    assert anon.identity.linked_to == c.cfg.pseudonyms.of("anna")
    assert anon.identity.linked_partition == 3
    anna = state(c, "anna")
    assert anna is not None and anna.identity is not None
    [link] = anna.identity.links
    assert (link.anon, link.partition, link.status) == (c.cfg.pseudonyms.of("dev-anna"), 2, LINKED)
    assert anna.session is not None and anna.session.page_views == 2  # product and checkout
    assert len(anna.seen_ids) == 5  # the device's ids moved with it


def test_two_open_sessions_within_the_gap_become_one_the_later_one_counts_as_merged() -> None:
    c = Cluster()
    c.send(
        ev("page_view", "anna", 0, channel="app", touchpoint="app"),
        ev("page_view", "laptop-anna", 100, touchpoint="product"),
        ev("identify", "anna", 300, anonymous_id="laptop-anna"),
    )
    c.quiet()  # the claim waits for the device's partition to reach its time
    assert c.total("tracker_sessions_started_total", channel="app") == 1
    assert c.total("tracker_sessions_started_total", channel="web") == 1
    assert c.total("tracker_sessions_merged_total", channel="web") == 1  # it started later
    assert c.total("tracker_sessions_active", channel="app") == 1  # the survivor's entry
    assert c.total("tracker_sessions_active") == 1
    c.close_all()
    assert c.total("tracker_sessions_closed_total", channel="app") == 1
    assert c.total("tracker_sessions_closed_total") == 1
    assert c.total("tracker_sessions_multichannel_total", channel="app") == 1
    assert per_channel_invariant(c) == {}


def test_when_the_anonymous_session_started_first_it_survives() -> None:
    c = Cluster()
    c.send(
        ev("page_view", "laptop-anna", 0, touchpoint="product"),
        ev("page_view", "anna", 100, channel="app", touchpoint="app"),
        ev("identify", "anna", 300, anonymous_id="laptop-anna", channel="app"),
    )
    c.quiet()  # the claim waits for the device's partition to reach its time
    assert c.total("tracker_sessions_merged_total", channel="app") == 1
    c.close_all()
    assert c.total("tracker_sessions_closed_total", channel="web") == 1
    assert c.total("tracker_sessions_closed_total") == 1
    assert per_channel_invariant(c) == {}


def test_sessions_further_apart_than_the_gap_stay_two() -> None:
    c = Cluster()
    c.send(
        ev("page_view", "laptop-anna", 0, touchpoint="product"),
        ev("page_view", "anna", 40 * MIN, channel="app", touchpoint="app"),
        ev("identify", "anna", 41 * MIN, anonymous_id="laptop-anna", channel="app"),
    )
    c.quiet()  # the claim waits for the device's partition to reach its time
    assert c.total("tracker_sessions_merged_total") == 0
    # The laptop's session had ended by event time: it closes on the customer's partition.
    assert c.total("tracker_sessions_closed_total", channel="web") == 1
    assert c.total("tracker_sessions_active", channel="app") == 1
    assert per_channel_invariant(c) == {}


def test_a_late_event_under_the_anonymous_id_counts_for_the_customer() -> None:
    c = Cluster()
    journey(c)
    c.send(ev("page_view", "dev-anna", 300, touchpoint="product"))  # another tab
    assert c.total("tracker_events_forwarded_total") == 1
    assert c.total("tracker_events_total") == 6
    assert c.total("tracker_events_dropped_total") == 0
    assert c.total("tracker_sessions_started_total") == 1
    c.close_all()
    assert c.total("tracker_session_exits_total", touchpoint="product") == 1
    assert c.total("tracker_sessions_closed_total") == 1


def test_a_retried_anonymous_event_after_the_link_is_a_duplicate_of_the_customer() -> None:
    c = Cluster()
    early = ev("page_view", "dev-anna", 0, touchpoint="product")
    c.send(early, ev("identify", "anna", 120, anonymous_id="dev-anna"))
    c.quiet()  # the claim waits for the device's partition to reach its time
    c.send(early)  # the collector's retry of the first page, after the link
    assert c.total("tracker_events_dropped_total", reason="duplicate") == 1
    assert c.total("tracker_events_total", event_type="page_view") == 1


def test_reach_counts_the_person_once_per_window_and_channel() -> None:
    c = Cluster()
    c.send(
        ev("page_view", "dev-anna", 0),
        ev("page_view", "anna", 60, channel="app"),
        ev("identify", "anna", 120, anonymous_id="dev-anna"),
    )
    c.quiet()  # the claim waits for the device's partition to reach its time
    assert c.total("tracker_reach", window="1h", channel="all") == 1
    assert c.total("tracker_reach", window="1h", channel="web") == 1
    assert c.total("tracker_reach", window="1h", channel="app") == 1


def test_a_guest_order_then_an_order_as_customer_is_a_repurchase() -> None:
    c = Cluster()
    c.send(
        ev("order", "dev-anna", 0),
        ev("identify", "anna", 60, anonymous_id="dev-anna"),
        ev("order", "anna", 120),
    )
    c.quiet()  # the claim waits for the device's partition to reach its time
    assert c.total("tracker_repurchase_customers_window") == 1
    assert c.total("tracker_repurchase_repeat_customers_window") == 1


def test_a_second_customer_for_the_same_device_is_a_conflict_and_moves_nothing() -> None:
    c = Cluster()
    journey(c)
    c.send(ev("identify", "bob", 300, anonymous_id="dev-anna"))
    c.quiet()  # the claim waits for the device's partition to reach its time
    assert c.total("tracker_identity_conflicts_total") == 1
    assert c.total("tracker_identity_links_total") == 1
    assert c.total("tracker_events_total", event_type="identify") == 2
    c.send(ev("page_view", "dev-anna", 360))
    anna = state(c, "anna")
    assert anna is not None and anna.last_seen_ms == ms(360)  # still anna's device
    bob = state(c, "bob")
    assert bob is not None and (bob.identity is None or not bob.identity.links)


def test_an_anonymous_id_that_is_itself_a_link_target_is_a_conflict() -> None:
    c = Cluster()
    journey(c)
    c.send(ev("identify", "carl", 300, anonymous_id="anna"))
    c.quiet()  # the claim waits for the device's partition to reach its time
    assert c.total("tracker_identity_conflicts_total") == 1
    assert c.total("tracker_identity_links_total") == 1


def test_identifying_the_same_device_again_is_counted_and_links_nothing_new() -> None:
    c = Cluster()
    journey(c)
    c.send(ev("identify", "anna", 300, anonymous_id="dev-anna"))
    c.quiet()  # the claim waits for the device's partition to reach its time
    assert c.total("tracker_events_total", event_type="identify") == 2
    assert c.total("tracker_identity_links_total") == 1
    assert c.total("tracker_identity_conflicts_total") == 0
    anna = state(c, "anna")
    assert anna is not None and anna.identity is not None and len(anna.identity.links) == 1


def test_an_identify_of_itself_is_a_plain_counted_event() -> None:
    c = Cluster()
    c.send(ev("identify", "anna", 0, anonymous_id="anna"))
    c.quiet()  # the claim waits for the device's partition to reach its time
    assert c.total("tracker_events_total", event_type="identify") == 1
    assert c.total("tracker_identity_links_total") == 0
    assert c.total("tracker_sessions_started_total") == 0


def test_an_identify_without_consent_links_nothing() -> None:
    c = Cluster()
    c.send(ev("page_view", "dev-anna", 0))
    c.send(ev("identify", "anna", 60, anonymous_id="dev-anna", analytics=False))
    c.quiet()  # the claim waits for the device's partition to reach its time
    assert c.total("tracker_events_dropped_total", reason="no_consent") == 1
    assert c.total("tracker_identity_links_total") == 0
    assert state(c, "dev-anna").identity is None


def test_a_withdrawn_device_is_not_linked_the_identify_is_dropped_as_no_consent() -> None:
    c = Cluster()
    c.send(ev("page_view", "dev-anna", 0), ev("consent", "dev-anna", 30, analytics=False))
    c.send(ev("identify", "anna", 60, anonymous_id="dev-anna"))
    c.quiet()  # the claim waits for the device's partition to reach its time
    assert c.total("tracker_events_dropped_total", reason="no_consent") == 1
    assert c.total("tracker_identity_links_total") == 0
    assert c.total("tracker_events_total", event_type="identify") == 0
    c.send(ev("page_view", "anna", 90))
    assert c.total("tracker_sessions_active") == 1  # not held: the reply came
    assert c.total("tracker_sessions_discarded_total") == 1  # the device's, by its withdrawal


def test_a_withdrawn_customer_links_nothing() -> None:
    c = Cluster()
    c.send(ev("consent", "anna", 0, analytics=False), ev("page_view", "dev-anna", 10))
    c.send(ev("identify", "anna", 60, anonymous_id="dev-anna"))
    c.quiet()  # the claim waits for the device's partition to reach its time
    assert c.total("tracker_events_dropped_total", reason="no_consent") == 1
    assert c.total("tracker_identity_links_total") == 0


def test_erasing_the_customer_erases_the_device_and_blocks_it_until_it_grants_consent() -> None:
    c = Cluster()
    journey(c)
    c.erase("anna", ms(300))
    assert c.total("tracker_erasures_total", reason="request") == 1
    assert c.total("tracker_sessions_discarded_total", channel="web") == 1
    assert c.total("tracker_reach", window="1h", channel="all") == 0
    assert per_channel_invariant(c) == {}
    device = state(c, "dev-anna")
    assert device is not None and device.withdrawn and device.identity is not None
    assert device.identity.linked_to is None
    c.send(ev("page_view", "dev-anna", 360))
    assert c.total("tracker_events_dropped_total", reason="no_consent") == 1
    c.send(ev("consent", "dev-anna", 400), ev("page_view", "dev-anna", 420))
    assert c.total("tracker_reach", window="1h", channel="all") == 1  # a new anonymous visitor


def test_a_withdrawal_from_the_linked_device_erases_the_customer() -> None:
    c = Cluster()
    journey(c)
    c.send(ev("consent", "dev-anna", 300, analytics=False))
    assert c.total("tracker_events_forwarded_total") == 1
    assert c.total("tracker_consent_withdrawals_total") == 1
    assert c.total("tracker_erasures_total", reason="withdrawal") == 1
    anna = state(c, "anna")
    assert anna is not None and anna.withdrawn and anna.last_seen_ms == -1
    assert state(c, "dev-anna").withdrawn


def test_erasure_leaves_no_trace_in_a_restarted_worker() -> None:
    c = Cluster()
    journey(c)
    c.erase("anna", ms(300))
    c.acknowledge_all()
    c.tick(c.wall_ms + 1000)  # housekeeping drops the acknowledged records the rows kept
    for p in range(c.partitions):
        c.restart(p)
    for customer in ("anna", "dev-anna"):
        restored = state(c, customer)
        assert restored is not None and restored.withdrawn
        assert restored.session is None and restored.last_seen_ms == -1
        assert restored.identity is not None
        assert restored.identity.links == [] and restored.identity.out == []
        assert restored.identity.linked_to is None


def test_a_claim_to_a_partition_without_any_input_is_answered_by_the_idle_rule() -> None:
    # dev-anna's partition (2) never receives an event: only the claim reaches it. Before,
    # its idle clock never started, the claim waited for ever and the identify was never
    # counted (the generated-attacks conservation test found it).
    c = Cluster()
    c.send(ev("identify", "anna", 0, anonymous_id="dev-anna"))
    assert c.procs[c.partition_of("dev-anna")].last_input_wall_ms is None
    assert total(c.samples(), "tracker_events_total", event_type="identify") == 0
    c.quiet()  # the first tick starts the clock
    c.quiet()  # a minute later the idle rule moves the watermark past the identify
    s = c.samples()
    assert total(s, "tracker_events_total", event_type="identify") == 1
    assert total(s, "tracker_identity_links_total") == 1


def test_two_full_deduplication_memories_merge_and_the_next_event_counts() -> None:
    # Both ids sent more than the memory holds within the window; the merged memory keeps
    # the newest DEDUP_IDS. This once looped forever on the customer's next event.
    c = Cluster()
    c.send(*(ev("page_ping", "dev-anna", i, event_id=f"d{i}") for i in range(DEDUP_IDS + 5)))
    c.send(*(ev("page_ping", "anna", 2 * i, event_id=f"a{i}") for i in range(DEDUP_IDS + 5)))
    c.send(ev("identify", "anna", 300, anonymous_id="dev-anna"))
    c.quiet(5)
    c.send(ev("page_view", "anna", 320, event_id="after"))
    c.quiet()
    assert c.total("tracker_identity_links_total") == 1
    assert c.total("tracker_events_total", event_type="page_view") == 1
    merged = state(c, "anna")
    assert merged is not None and len(merged.seen_ids) == DEDUP_IDS
    c.send(ev("page_view", "anna", 321, event_id="after"))  # its retry: still remembered
    assert c.total("tracker_events_dropped_total", reason="duplicate") == 1


def test_an_identify_timed_beyond_any_watermark_is_still_answered_and_counted() -> None:
    # A producer set the message's CreateTime to year 9999, so the identify passes the future
    # check with a time no partition's watermark reaches. It waits at most until the wall
    # clock at receipt plus TRACKER_MAX_FUTURE, which the idle rule passes.
    pipeline = ReferencePipeline(config(), partitions=4)
    identify = ev("identify", "anna", 0, anonymous_id="dev-anna")
    identify["occurred_at"] = "9999-12-31T23:59:59Z"
    pipeline.feed(b"anna", encode(identify), LATEST_MS, T0_MS)
    pipeline.tick(T0_MS + 120_000)
    assert total(pipeline.samples(), "tracker_events_total", event_type="identify") == 0
    pipeline.tick(ms(20 * MIN))  # past the future bound (10 minutes), idle
    samples = pipeline.samples()
    assert total(samples, "tracker_events_total", event_type="identify") == 1
    assert total(samples, "tracker_identity_links_total") == 1
