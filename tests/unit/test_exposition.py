"""Prometheus exposition: names, partition labels, bounded label values.

The names and labels are those of docs/metrics.md#prometheus-names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.unit.helpers import DAY, HOUR, MIN, Harness, config, encode, ev, ms, samples_of
from tracker.core.accounts import PEOPLE_BUCKETS
from tracker.core.contract import CHANNELS, EVENT_TYPES, SUPPORT_CHANNELS, VITAL_NAMES
from tracker.core.customer import SOURCES
from tracker.core.labels import NPS_CATEGORIES
from tracker.core.memory_store import MemoryStore
from tracker.core.partition import PartitionProcessor
from tracker.core.sessionizer import SENTIMENT_BUCKETS
from tracker.core.support import FIRST_RESPONSE_BUCKETS, RESOLUTION_BUCKETS
from tracker.core.vitals import LCP_CLASSES, bucket_labels
from tracker.metrics.catalogue import SCRAPE_PARTS, spec
from tracker.metrics.exposition import INTERNAL_REASONS, REJECT_REASONS, StateExporter, WorkerView

GUIDE_COUNTERS = {
    "tracker_events_total": {"event_type", "channel"},
    "tracker_events_rejected_total": {"reason"},
    "tracker_events_dropped_total": {"reason"},
    "tracker_events_late_total": set(),
    "tracker_sessions_started_total": {"channel"},
    "tracker_sessions_closed_total": {"channel"},
    "tracker_sessions_bounced_total": {"channel"},
    "tracker_sessions_engaged_total": {"channel"},
    "tracker_sessions_interacted_total": {"channel"},
    "tracker_sessions_converted_total": {"channel"},
    "tracker_orders_total": {"channel"},
    "tracker_revenue_total": {"currency"},
    "tracker_journey_transitions_total": {"from_touchpoint", "to_touchpoint"},
    "tracker_session_exits_total": {"touchpoint"},
    "tracker_erasures_total": {"reason"},
    "tracker_nps_responses_total": {"category", "channel"},
    "tracker_csat_responses_total": {"score", "channel"},
    "tracker_ces_responses_total": {"score", "channel"},
    "tracker_feedback_sentiment_total": {"polarity", "language", "channel"},
    "tracker_funnel_sessions_total": {"step"},
    "tracker_sessions_multichannel_total": {"channel"},
}
GUIDE_GAUGES = {
    "tracker_sessions_active": {"channel"},
    "tracker_reach": {"window", "channel"},
    "tracker_bounce_rate": {"window", "channel"},
    "tracker_conversion_rate": {"window", "channel"},
    "tracker_interaction_rate": {"window", "channel"},
    "tracker_nps": {"window"},
    "tracker_csat": {"window"},
    "tracker_ces": {"window"},
    "tracker_repurchase_rate": {"window"},
    "tracker_watermark_lag_seconds": {"partition"},
    "tracker_consumer_lag": {"partition"},
}
# The numerators and denominators behind every rate gauge (sum()/sum() across workers).
RATE_PARTS = {
    "tracker_bounce_rate": ("tracker_sessions_bounced_window", "tracker_sessions_closed_window"),
    "tracker_conversion_rate": (
        "tracker_sessions_converted_window",
        "tracker_sessions_closed_window",
    ),
    "tracker_interaction_rate": (
        "tracker_sessions_interacted_window",
        "tracker_sessions_closed_window",
    ),
    "tracker_csat": ("tracker_csat_satisfied_window", "tracker_csat_responses_window"),
    "tracker_ces": ("tracker_ces_score_sum_window", "tracker_ces_responses_window"),
    "tracker_repurchase_rate": (
        "tracker_repurchase_repeat_customers_window",
        "tracker_repurchase_customers_window",
    ),
}

CFG = config()
LABELS = CFG.rules.labels
BOUNDED: dict[str, set[str]] = {
    "channel": {*CHANNELS, "all"},
    "event_type": set(EVENT_TYPES),
    "reason": {
        *REJECT_REASONS,
        *INTERNAL_REASONS,
        "no_consent",
        "duplicate",
        "bot",
        "withdrawal",
        "request",
    },
    "window": {"1h", "24h", "7d", "28d", "90d"},
    "touchpoint": set(LABELS.touchpoints),
    "from_touchpoint": set(LABELS.touchpoints),
    "to_touchpoint": set(LABELS.touchpoints),
    "currency": set(LABELS.currencies),
    "category": set(NPS_CATEGORIES),
    "score": {str(n) for n in range(1, 8)},
    "polarity": {"positive", "negative", "neutral"},
    "language": {"de", "en"},
    "step": set(LABELS.funnel),
    "action": set(LABELS.actions),
    "source": set(SOURCES),
    "partition": {"0", "1", "2", "3"},
    "le": {
        *(str(b) for b in SENTIMENT_BUCKETS[:-1]),
        *(le for name in VITAL_NAMES for le in bucket_labels(name)),
        *(str(float(b)) for b in (*FIRST_RESPONSE_BUCKETS, *RESOLUTION_BUCKETS)),
        "+Inf",
    },
    "name": set(VITAL_NAMES),
    "lcp_class": set(LCP_CLASSES),
    "support_channel": set(SUPPORT_CHANNELS),
    "people_le": {*(str(b) for b in PEOPLE_BUCKETS), "+Inf"},
    "channels": {str(n) for n in range(1, len(CHANNELS) + 1)},
    "part": set(SCRAPE_PARTS),
    "rule": {"no_user_agent", "headless", "crawler_list"},
    "position": {str(n) for n in range(1, len(LABELS.funnel) + 1)},
    "experiment": {name for name, _ in LABELS.experiments},
    "variant": {variant for _, variant in LABELS.arms},
}
SECRETS = ("ana@example.com", "bob-device-7f3a", "evt-secret", "order-secret", "berlin-mitte")


def busy_harness(partition: int = 0) -> Harness:
    """A bit of everything, with personal data in every place it may appear on the wire."""
    h = Harness(partition)
    ana, bob = "ana@example.com", "bob-device-7f3a"
    h.send(
        ev("page_view", ana, 0, event_id="evt-secret-1", touchpoint="store:berlin-mitte"),
        ev("page_view", ana, 1 * MIN, touchpoint="product:berlin-mitte", channel="app"),
        ev("interaction", ana, 2 * MIN, action="berlin-mitte", touchpoint="cart"),
        ev("order", ana, 3 * MIN, order_id="order-secret-9", currency="JPY", revenue=12),
        ev("feedback", ana, 4 * MIN, nps=3, csat=4, ces=2, comment="good", language="en"),
        ev("page_view", bob, 5 * MIN, referrer="https://x/?email=ana@example.com"),
        ev("page_ping", bob, 6 * MIN),
        ev("page_view", bob, 6 * MIN, touchpoint="berlin-mitte"),
        ev("order", bob, 7 * MIN, touchpoint="checkout"),
        ev("feedback", bob, 8 * MIN, comment="schlecht", language="de", nps=10),
        ev("web_vital", bob, 8 * MIN, touchpoint="berlin-mitte", event_id="evt-secret-2"),
        ev("support_contact", bob, 8 * MIN, ticket_id="berlin-mitte-ticket"),
        ev("support_reply", bob, 9 * MIN, ticket_id="berlin-mitte-ticket", analytics=False),
    )
    h.send(ev("page_view", "carl", 1 * DAY), ev("order", "carl", 1 * DAY + 1))
    h.send(ev("page_view", "dora", 1 * DAY, analytics=False))
    h.send(ev("consent", "carl", 1 * DAY + 2, analytics=False))
    h.raw(ana, b"not json")
    h.raw(ana, encode(ev("page_view", bob, 1 * DAY)))
    h.send(ev("page_view", "emil", 1 * DAY + HOUR))  # closes everything before it
    return h


def families(processors: dict[int, PartitionProcessor]) -> dict[str, tuple[str, list]]:  # type: ignore[type-arg]
    registry = CollectorRegistry()
    registry.register(
        StateExporter(
            WorkerView(
                partitions=lambda: processors,
                now_ms=lambda: ms(2 * DAY),
                consumer_lag=lambda _p: 3,
                identity_lag=lambda p: p + 1,
                funnel=LABELS.funnel,
                repurchase_seconds=CFG.repurchase_seconds,
            )
        )
    )
    text = generate_latest(registry).decode()
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(types) == len(set(types)), "a metric family is exported twice"
    out = {}
    for family in text_string_to_metric_families(text):
        assert family.name not in out, f"family {family.name} exported twice"
        out[family.name] = (family.type, family.samples)
    return out


def test_every_guide_metric_is_exported_with_its_labels() -> None:
    found = families({0: busy_harness().p})
    names = {s.name: s for _, samples in found.values() for s in samples}
    for name, labels in GUIDE_COUNTERS.items():
        assert name in names, name
        assert set(names[name].labels) == labels | {"partition"}, name
    for name, labels in GUIDE_GAUGES.items():
        assert name in names, name
        assert set(names[name].labels) == labels, name
    for numerator, denominator in RATE_PARTS.values():
        assert numerator in names and denominator in names
    assert "tracker_nps_promoters_window" in names
    assert "tracker_nps_detractors_window" in names
    assert "tracker_nps_responses_window" in names


def test_counters_are_counters_and_carry_their_partition() -> None:
    found = families({2: busy_harness(partition=2).p})
    for name, (kind, samples) in found.items():
        if (
            kind in ("counter", "histogram")
            and spec(name + "_total" if kind == "counter" else name).keys
        ):
            for sample in samples:
                assert sample.labels.get("partition") == "2", (name, sample)
    for name in GUIDE_COUNTERS:
        assert found[name.removesuffix("_total")][0] == "counter", name


def test_label_values_come_from_bounded_sets_only() -> None:
    found = families({0: busy_harness().p})
    for name, (_, samples) in found.items():
        for sample in samples:
            for label, value in sample.labels.items():
                assert label in BOUNDED, f"{name}: label {label} has no bounded set"
                assert value in BOUNDED[label], f"{name}{{{label}={value!r}}}"


def test_no_personal_data_in_metrics() -> None:
    processors = {0: busy_harness().p}
    text = str(samples_of(processors, CFG))
    for secret in SECRETS:
        assert secret not in text


def test_counters_show_zero_before_any_data() -> None:
    empty = CFG.processor(0, MemoryStore())
    found = families({0: empty})
    names = {s.name for _, samples in found.values() for s in samples}
    for name in (
        "tracker_events_total",
        "tracker_events_rejected_total",
        "tracker_events_dropped_total",
        "tracker_events_late_total",
        "tracker_sessions_started_total",
        "tracker_sessions_closed_total",
        "tracker_orders_total",
        "tracker_erasures_total",
    ):
        assert name in names, name


def test_counters_per_partition_and_gauges_across_partitions() -> None:
    one, two = busy_harness(0), busy_harness(1)
    found = families({0: one.p, 1: two.p})
    events = [s for s in found["tracker_events"][1] if s.name == "tracker_events_total"]
    by_partition = {p: sum(s.value for s in events if s.labels["partition"] == p) for p in "01"}
    assert by_partition["0"] == by_partition["1"] == one.total("tracker_events_total")
    reach = [
        s for s in found["tracker_reach"][1] if s.labels == {"window": "28d", "channel": "all"}
    ]
    assert len(reach) == 1  # one gauge value over both partitions
    assert reach[0].value == 2 * one.gauge("tracker_reach", window="28d", channel="all")
    lag = {s.labels["partition"]: s.value for s in found["tracker_consumer_lag"][1]}
    assert lag == {"0": 3, "1": 3}
    lag = {s.labels["partition"]: s.value for s in found["tracker_identity_lag"][1]}
    assert lag == {"0": 1, "1": 2}  # each partition its own
    for name in ("tracker_identity_held_events", "tracker_identity_records_unacknowledged"):
        assert {s.labels["partition"] for s in found[name][1]} == {"0", "1"}, name


def test_watermark_lag_and_reference_time() -> None:
    h = busy_harness()
    found = families({0: h.p})
    [lag] = found["tracker_watermark_lag_seconds"][1]
    assert lag.value == (ms(2 * DAY) - h.p.watermark_ms) / 1000
    [ref] = found["tracker_reference_time_seconds"][1]
    assert ref.value == h.p.watermark_ms / 1000


def test_revenue_counter_is_exact_in_decimal_and_rendered_per_currency() -> None:
    h = busy_harness()
    assert h.total("tracker_revenue_total", currency="other") == 12
    assert h.total("tracker_revenue_total", currency="EUR") == 20
