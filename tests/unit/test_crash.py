"""Crash exactness: whatever prefix of the changelog survives, totals count every input once.

A crash keeps a prefix of a partition's changelog (``MemoryStore.log``); the new
owner restores the table from it, ``recover``s, and the consumer resumes from a
committed offset that may lie before messages already applied (Faust writes the
changelog ahead of the offset commit). The metrics must end exactly as in a run
that never crashed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import pytest

from tests.unit.helpers import DAY, HOUR, MIN, Harness, config, encode, ev, ms, samples_of
from tests.unit.stream import Stream, generate
from tracker.core.customer import decode_state
from tracker.core.memory_store import MemoryStore
from tracker.core.partition import PartitionProcessor
from tracker.core.pipeline_config import PipelineConfig
from tracker.kafka.partitioner import partition_for
from tracker.metrics.samples import Sample

PARTITIONS = 3
UNACKED_TAIL = 150  # changelog writes a crash may lose
REFEED_WINDOW = 40  # how far the committed offset may lag the last applied one
FAR_FUTURE_MS = 400 * DAY * 1000
SEEDS = (1, 2, 3)
# The idle rule follows the wall clock, which a restart does not reproduce: with this
# timeout it fires only in the quiet hours between bursts, where the next burst's events
# move the watermark further anyway, so the runs with and without crashes stay comparable.
STREAM_IDLE_TIMEOUT = 1800
CRASHES = 15  # per run, each of one random partition at a random step


def comparable(samples: list[Sample]) -> dict[tuple[str, tuple[tuple[str, str], ...]], object]:
    """Samples by name and labels; NaN made comparable."""
    return {(n, lab): ("nan" if math.isnan(v) else v) for n, lab, v in samples}


def aggregates_of(proc: PartitionProcessor) -> dict[str, object]:
    """Everything a partition's aggregates hold that metrics are computed from."""
    agg = proc.aggregates
    # Buckets older than the horizon are never read (and pruned at the next flush).
    minute_floor, hour_floor = agg.minute_floor(), agg.hour_floor()
    hists = {}
    for name, h in agg.hists.items():
        minutes = {m: n for m, n in h.minutes.items() if m >= minute_floor}
        hours = {x: n for x, n in h.hours.items() if x >= hour_floor}
        if minutes or hours:
            hists[name] = (minutes, hours)
    return {
        "counters": {k: v for k, v in agg.counters.items() if v},
        "revenue": agg.revenue,
        "hists": hists,
        "watermark": proc.watermark_ms,
        "active": {c: n for c, n in proc.active_sessions.items() if n},
    }


@dataclass
class Cluster:
    """Every partition of the topic; ``crash`` loses the unacknowledged tail of one."""

    cfg: PipelineConfig
    stream: Stream
    rng: random.Random = field(default_factory=random.Random)
    stores: dict[int, MemoryStore] = field(default_factory=dict)
    procs: dict[int, PartitionProcessor] = field(default_factory=dict)
    fed: dict[int, list[int]] = field(default_factory=dict)  # partition -> message per offset
    durable: dict[int, int] = field(default_factory=dict)  # changelog length a crash keeps
    wall_ms: int = 0
    crashes: int = 0
    refed: int = 0

    def __post_init__(self) -> None:
        for p in range(PARTITIONS):
            self.stores[p] = MemoryStore()
            self.procs[p] = self.cfg.processor(p, self.stores[p])
            self.fed[p] = []
            self.durable[p] = 0

    def step(self, step: tuple[object, ...]) -> int | None:
        """Run one schedule step; returns the partition a message went to."""
        if step[0] == "tick":
            self.tick(int(step[1]))  # type: ignore[call-overload]
        elif step[0] == "flush":
            self.flush()
        else:
            msg = self.stream.messages[int(step[1])]  # type: ignore[call-overload]
            p = partition_for(msg.key, PARTITIONS)
            self.fed[p].append(int(step[1]))  # type: ignore[call-overload]
            self.wall_ms = max(self.wall_ms, msg.wall_ms)
            self.procs[p].process(
                msg.key, msg.value, len(self.fed[p]) - 1, msg.broker_ms, msg.wall_ms
            )
            return p
        return None

    def tick(self, wall_ms: int) -> None:
        self.wall_ms = max(self.wall_ms, wall_ms)
        for proc in self.procs.values():
            proc.tick(wall_ms)

    def flush(self) -> None:
        for proc in self.procs.values():
            proc.flush()

    def crash(self, p: int) -> None:
        """Lose the unacknowledged tail of p's changelog, restore, resume from a committed offset."""
        log = self.stores[p].log
        # Writes are acknowledged in order; what a crash loses is a tail.
        cut = self.rng.randint(max(self.durable[p], len(log) - UNACKED_TAIL), len(log))
        store = MemoryStore.replay(log[:cut])
        self.durable[p] = cut
        proc = self.cfg.processor(p, store)
        proc.recover(self.wall_ms)
        # The committed offset is at most one past the last message whose row survived.
        applied = proc.applied_offset
        committed = self.rng.randint(max(0, applied + 1 - REFEED_WINDOW), applied + 1)
        for offset in range(committed, len(self.fed[p])):
            msg = self.stream.messages[self.fed[p][offset]]
            proc.process(msg.key, msg.value, offset, msg.broker_ms, msg.wall_ms)
            self.refed += 1
        self.stores[p], self.procs[p] = store, proc
        self.crashes += 1

    def samples(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], object]:
        return comparable(samples_of(self.procs, self.cfg, self.wall_ms))

    def restarted(self) -> Cluster:
        """Every partition restored from its full changelog by a new worker."""
        twin = Cluster(self.cfg, self.stream)
        twin.wall_ms = self.wall_ms
        for p in range(PARTITIONS):
            twin.stores[p] = MemoryStore.replay(self.stores[p].log)
            twin.procs[p] = self.cfg.processor(p, twin.stores[p])
            twin.procs[p].recover(self.wall_ms)
        return twin

    def close_everything(self) -> None:
        """Months of quiet: every session closes and all customer state expires."""
        self.tick(self.wall_ms + FAR_FUTURE_MS)
        self.flush()


@dataclass
class Played:
    """One stream run twice in lockstep: by a cluster that never crashes and by one that does."""

    twin: Cluster
    crashed: Cluster
    live: tuple[dict, dict]  # type: ignore[type-arg]  # samples at the end of the input
    closed: tuple[dict, dict]  # type: ignore[type-arg]  # after every session closed
    mismatches: list[str]  # partitions that differed on their first message after a crash
    checked: int


def play(seed: int) -> Played:
    stream = generate(seed)
    rng = random.Random(seed * 7919)
    cfg = config(idle_timeout=STREAM_IDLE_TIMEOUT)
    twin, crashed = Cluster(cfg, stream), Cluster(cfg, stream, rng)
    crash_after = set(rng.sample(range(len(stream.schedule)), CRASHES))
    pending: set[int] = set()
    mismatches: list[str] = []
    checked = 0
    for i, step in enumerate(stream.schedule):
        twin.step(step)
        p = crashed.step(step)
        if p in pending:  # its first message since the crash moved the watermark past any gap
            pending.discard(p)
            checked += 1
            if aggregates_of(crashed.procs[p]) != aggregates_of(twin.procs[p]):
                mismatches.append(f"partition {p} at step {i}")
        if i in crash_after:
            q = rng.randrange(PARTITIONS)
            crashed.crash(q)
            pending.add(q)
    twin.flush()
    crashed.flush()
    live = (twin.samples(), crashed.samples())
    for cluster in (twin, crashed):
        cluster.close_everything()
    return Played(twin, crashed, live, (twin.samples(), crashed.samples()), mismatches, checked)


@pytest.fixture(scope="module")
def played() -> dict[int, Played]:
    return {seed: play(seed) for seed in SEEDS}


def summed(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    want = set(labels.items())
    return sum(v for (n, lab), v in samples.items() if n == name and want <= set(lab))


def test_generated_stream_exercises_the_edges(played: dict[int, Played]) -> None:
    """Guards the generator: the crash tests only mean something if all of this happens."""
    for run in played.values():
        live, closed = run.live[0], run.closed[0]
        assert summed(closed, "tracker_events_total") > 1000
        assert summed(closed, "tracker_events_rejected_total", reason="invalid_json") > 5
        assert summed(closed, "tracker_events_rejected_total", reason="invalid_event") > 5
        assert summed(closed, "tracker_events_rejected_total", reason="key_mismatch") > 5
        assert summed(closed, "tracker_events_rejected_total", reason="future_timestamp") > 5
        assert summed(closed, "tracker_events_dropped_total", reason="duplicate") > 20
        assert summed(closed, "tracker_events_dropped_total", reason="no_consent") > 20
        assert summed(closed, "tracker_events_late_total") > 20
        assert summed(closed, "tracker_erasures_total") > 5
        assert summed(closed, "tracker_sessions_closed_total") > 200
        assert summed(closed, "tracker_sessions_converted_total") > 20
        assert summed(closed, "tracker_journey_transitions_total") > 100
        assert summed(closed, "tracker_revenue_total") > 0
        assert summed(live, "tracker_sessions_active") > 10
        assert summed(live, "tracker_reach") > 100


@pytest.mark.parametrize("seed", SEEDS)
def test_crashes_at_random_points_count_every_input_once(
    played: dict[int, Played], seed: int
) -> None:
    run = played[seed]
    assert run.crashed.crashes == CRASHES
    assert run.crashed.refed > 0  # applied messages really were fed again
    assert run.checked > 0
    assert run.mismatches == []
    assert run.live[1] == run.live[0]
    assert run.closed[1] == run.closed[0]
    for p in range(PARTITIONS):
        # Revenue as Decimal (exact) and every bucket, not only what the windows show now.
        assert aggregates_of(run.crashed.procs[p]) == aggregates_of(run.twin.procs[p])


def test_restart_from_the_full_changelog_gives_identical_samples() -> None:
    cluster = Cluster(config(idle_timeout=STREAM_IDLE_TIMEOUT), generate(4, bursts=2))
    for step in cluster.stream.schedule:
        cluster.step(step)
    cluster.flush()
    assert cluster.restarted().samples() == cluster.samples()
    cluster.close_everything()
    assert cluster.restarted().samples() == cluster.samples()


def test_state_expiry_deletes_every_customer_row_with_tombstones(
    played: dict[int, Played],
) -> None:
    for cluster in (played[1].twin, played[1].crashed):
        for p, store in cluster.stores.items():
            customer_keys = {k for k, _ in store.log if k.startswith(f"{p}/c/")}
            assert customer_keys
            assert not [k for k in store.rows if k.startswith(f"{p}/c/")]
            last_write = dict(store.log)
            assert all(last_write[k] is None for k in customer_keys)


# --- focused cases -------------------------------------------------------------------------------


SMALL = [
    ev("page_view", "ana", 59 * MIN),
    ev("page_view", "eve", 59 * MIN + 40),
    ev("order", "ana", 61 * MIN, revenue="19.99"),  # ana's reach moves to the next hour ...
    ev("page_view", "eve", 61 * MIN + 10),  # ... and eve's: the 09:00 minute row empties
    ev("page_view", "bob", 62 * MIN, channel="app"),
    ev("feedback", "carl", 63 * MIN, nps=10),
    ev("interaction", "ana", 64 * MIN),
    ev("consent", "bob", 65 * MIN, analytics=False),
    ev("page_view", "bob", 66 * MIN),  # dropped: withdrawn
    ev("page_view", "carl", 2 * HOUR),
    ev("order", "ana", 2 * HOUR + 5 * MIN, revenue="0.01"),
    ev("page_view", "dora", 3 * HOUR),
]


def run_small(proc: PartitionProcessor, start: int = 0) -> None:
    """Feed SMALL from offset ``start``, flushing after every second message."""
    for offset in range(start, len(SMALL)):
        event = SMALL[offset]
        broker = ms(3 * HOUR + offset * MIN)
        proc.process(event["customer_id"].encode(), encode(event), offset, broker, broker)
        if offset % 2:
            proc.flush()


@pytest.mark.parametrize("restart", ["at_applied", "from_zero"])
def test_every_changelog_prefix_recovers_exactly(restart: str) -> None:
    cfg = config()
    reference = cfg.processor(0, MemoryStore())
    run_small(reference)
    reference.flush()
    expected = comparable(samples_of({0: reference}, cfg))
    log = reference.store.log  # type: ignore[attr-defined]
    for cut in range(len(log) + 1):
        proc = cfg.processor(0, MemoryStore.replay(log[:cut]))
        proc.recover(ms(4 * HOUR))
        run_small(proc, 0 if restart == "from_zero" else proc.applied_offset + 1)
        proc.flush()
        got = comparable(samples_of({0: proc}, cfg))
        assert got == expected, f"changelog cut at {cut} of {len(log)}"
        assert aggregates_of(proc) == aggregates_of(reference), f"cut at {cut} of {len(log)}"


def test_a_crash_during_recovery_is_exact_too() -> None:
    """Every cut of the log, then every cut of what the recovering owner wrote."""
    cfg = config()
    reference = cfg.processor(0, MemoryStore())
    run_small(reference)
    reference.flush()
    expected = aggregates_of(reference)
    log = reference.store.log  # type: ignore[attr-defined]
    for first in range(len(log) + 1):
        recovering = cfg.processor(0, MemoryStore.replay(log[:first]))
        recovering.recover(ms(4 * HOUR))
        written = recovering.store.log  # type: ignore[attr-defined]
        for second in range(first, len(written) + 1):
            proc = cfg.processor(0, MemoryStore.replay(written[:second]))
            proc.recover(ms(4 * HOUR))
            run_small(proc, proc.applied_offset + 1)
            proc.flush()
            assert aggregates_of(proc) == expected, f"cuts at {first} and {second}"


def test_refeeding_an_applied_message_is_harmless() -> None:
    h = Harness()
    value = encode(ev("order", "ana", 0, revenue="5"))
    h.p.process(b"ana", value, 0, ms(0), ms(0))
    h.p.process(b"ana", value, 0, ms(0), ms(0))
    assert h.total("tracker_orders_total") == 1
    assert h.total("tracker_events_dropped_total") == 0  # skipped, not even a duplicate


def test_recovery_restores_the_watermark_and_open_sessions() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0, channel="app"), ev("page_view", "bob", 10 * MIN))
    proc = h.cfg.processor(0, MemoryStore.replay(h.store.log))
    proc.recover(ms(10 * MIN))
    assert proc.watermark_ms == h.p.watermark_ms
    assert proc.applied_offset == 1
    assert proc.active_sessions == {1: 1, 0: 1}  # app, web
    # The restored sessions close as the original would have.
    proc.process(b"carl", encode(ev("page_view", "carl", 35 * MIN)), 2, ms(35 * MIN), ms(35 * MIN))
    assert proc.aggregates.counter("tracker_sessions_closed_total|app") == 1


def test_idle_state_expires_after_the_retention_with_a_tombstone() -> None:
    h = Harness()
    h.send(ev("order", "ana", 0), ev("page_view", "bob", 10 * DAY))
    key = "0/c/" + h.p.pseudonyms.of("ana")
    h.idle_to(89 * DAY)
    assert key in h.store.rows
    h.idle_to(90 * DAY + 1 * HOUR)  # past 90 d: longest reach window and repurchase lookback
    assert key not in h.store.rows
    assert (key, None) in h.store.log  # a tombstone, so compaction drops the row
    assert "0/c/" + h.p.pseudonyms.of("bob") in h.store.rows
    restarted = h.cfg.processor(0, MemoryStore.replay(h.store.log))
    restarted.recover(h.wall_ms)
    assert restarted.customer_row("ana") is None
    assert comparable(samples_of({0: restarted}, h.cfg, h.wall_ms)) == comparable(h.samples())


def test_restart_after_withdrawal_holds_no_trace_of_the_customer() -> None:
    h = Harness()
    h.send(
        ev("page_view", "ana", 0, touchpoint="product", channel="app"),
        ev("order", "ana", 1, revenue="12"),
        ev("consent", "ana", 2, analytics=False),
    )
    h.p.flush()
    restarted = h.cfg.processor(0, MemoryStore.replay(h.store.log))
    restarted.recover(h.wall_ms)
    row = restarted.customer_row("ana")
    assert row is not None
    state = decode_state(row["s"], restarted.rules.labels.touchpoints)
    assert state.withdrawn  # only the marker: no session, times, channels or orders
    assert state.session is None
    assert state.last_seen_ms == -1
    assert state.last_seen_by_channel == {}
    assert state.order_times == []
    assert len(state.seen_ids) == 1
    assert restarted.active_sessions.get(1, 0) == 0
    reach = samples_of({0: restarted}, h.cfg)
    assert sum(v for n, _, v in reach if n == "tracker_reach") == 0
