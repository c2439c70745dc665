"""The running workers of one deployment, scraped and summed as Prometheus would.

Workers export only the partitions they actively own, so the fleet's metrics
are summed only once every input partition is exported by exactly one worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tracker.metrics.samples import Sample
from tracker.testing.deployment import WorkerProcess
from tracker.testing.streams import counter_table, differences

# Gauges that must match too while the stream's end is the reference time (before the
# idle rule moves it): reach, overall and per channel, in every window.
REACH = ("tracker_reach",)
# A scrape's counters less the differences from the reference (the second) a scenario accepts.
Adjust = Callable[[dict[str, float], dict[str, float]], dict[str, float]]
# Counters every input message moves as it is applied, whatever the wall clock does later.
INGEST_COUNTERS = (
    "tracker_events_total",
    "tracker_events_dropped_total",
    "tracker_events_rejected_total",
    "tracker_events_late_total",
    "tracker_orders_total",
)


@dataclass
class Fleet:
    """The running workers of one deployment, scraped and summed as Prometheus would."""

    workers: list[WorkerProcess]
    partitions: int
    last_owners: dict[int, list[int]] = field(default_factory=dict)
    last_counters: dict[str, float] = field(default_factory=dict)  # of wait_for_counters

    def running(self) -> list[WorkerProcess]:
        return [w for w in self.workers if w.process is not None and w.process.poll() is None]

    def scrape(self) -> list[list[Sample]] | None:
        """Every running worker's samples, or None while one does not answer."""
        scraped = []
        for worker in self.running():
            status, _ = worker.get("/healthz")
            if status != 200:
                return None
            try:
                scraped.append(worker.samples())
            except AssertionError:
                return None
        return scraped

    def owners(self, scraped: list[list[Sample]]) -> dict[int, list[int]]:
        """Input partition -> the workers that export it (one each, once settled)."""
        owned: dict[int, list[int]] = {}
        for index, samples in enumerate(scraped):
            for name, labels, _ in samples:
                if name == "tracker_watermark_lag_seconds":
                    owned.setdefault(int(dict(labels)["partition"]), []).append(index)
        return owned

    def settled(self, scraped: list[list[Sample]]) -> bool:
        owned = self.last_owners = self.owners(scraped)
        complete = set(owned) == set(range(self.partitions))
        return complete and all(len(ws) == 1 for ws in owned.values())

    def caught_up(self, scraped: list[list[Sample]]) -> bool:
        """Every input partition exported once with no consumer lag left."""
        if not self.settled(scraped):
            return False
        lags = {
            int(dict(labels)["partition"]): value
            for samples in scraped
            for name, labels, value in samples
            if name == "tracker_consumer_lag"
        }
        return set(lags) == set(range(self.partitions)) and not any(lags.values())

    def wait_for_counters(
        self,
        expected: dict[str, float],
        timeout: float,
        adjust: Adjust | None = None,
    ) -> float:
        """Wait until the settled fleet's summed counters equal ``expected``; returns seconds.

        ``adjust`` takes out of a scrape the differences a scenario accepts, given the
        reference (``streams.without_entry_changes``); ``last_counters`` keeps the last
        settled scrape as it was. On timeout the assertion lists every difference left,
        then those ``adjust`` took out.
        """
        began = time.monotonic()
        deadline = began + timeout
        last: dict[str, float] | None = None
        while time.monotonic() < deadline:
            for worker in self.workers:
                if worker.process is not None and worker.process.poll() is not None:
                    raise AssertionError(f"a worker died: {worker.tail()}")
            scraped = self.scrape()
            if scraped is not None and self.settled(scraped):
                self.last_counters = counter_table(s for samples in scraped for s in samples)
                last = (
                    self.last_counters if adjust is None else adjust(self.last_counters, expected)
                )
                if not differences(last, expected):
                    return time.monotonic() - began
            time.sleep(1)
        problems = differences(last, expected) if last is not None else ["never settled"]
        if last is not None:
            # A series ``adjust`` brought back to its expected value is no longer a problem.
            taken = [d for d in differences(self.last_counters, expected) if d not in problems]
            problems = problems[:60] + [f"(accepted) {d}" for d in taken[:20]]
        raise AssertionError(
            f"counters differ after {timeout}s (owners {self.last_owners}):\n  "
            + "\n  ".join(problems[:80])
        )

    def wait_for_counters_at_least(self, expected: dict[str, float], timeout: float) -> float:
        """Wait until the listed counters reach their values; then they must equal them."""
        began = time.monotonic()
        deadline = began + timeout
        while time.monotonic() < deadline:
            scraped = self.scrape()
            if scraped is not None and self.settled(scraped):
                table = counter_table(sample for samples in scraped for sample in samples)
                if all(table.get(k, 0) >= v for k, v in expected.items()):
                    assert {k: table.get(k, 0) for k in expected} == expected
                    return time.monotonic() - began
            time.sleep(1)
        raise AssertionError(f"counters did not reach {expected} in {timeout}s")

    def wait_caught_up(self, at_end: Sequence[Sample], timeout: float) -> list[Sample]:
        """The summed samples once every partition is owned once and every message applied.

        "Applied" is judged by the per-message counters (events counted, dropped,
        rejected, late) reaching the reference's values at the stream's end: the
        workers' ``tracker_consumer_lag`` rests on the high watermark of the last fetch,
        which is stale while Faust has paused a partition, so it can read 0 too early.
        """
        wanted = counter_table(at_end, INGEST_COUNTERS)
        deadline = time.monotonic() + timeout
        last: dict[str, float] = {}
        samples: list[Sample] = []
        while time.monotonic() < deadline:
            scraped = self.scrape()
            if scraped is not None and self.settled(scraped):
                samples = [sample for samples in scraped for sample in samples]
                last = counter_table(samples, INGEST_COUNTERS)
                if last == wanted:
                    return samples
            time.sleep(0.5)
        raise AssertionError(
            f"the fleet did not catch up in {timeout}s (owners {self.last_owners}):\n  "
            + "\n  ".join(differences(last, wanted)[:20] + per_partition(samples, at_end))
        )


def per_partition(samples: Sequence[Sample], at_end: Sequence[Sample]) -> list[str]:
    """Messages applied and consumer lag per input partition: which one fell short, and how."""

    def applied(of: Sequence[Sample]) -> dict[str, float]:
        totals: dict[str, float] = {}
        for name, labels, value in of:
            if name in INGEST_COUNTERS and name != "tracker_orders_total":
                partition = dict(labels).get("partition", "?")
                totals[partition] = totals.get(partition, 0.0) + value
        return totals

    got, wanted = applied(samples), applied(at_end)
    lags = {
        dict(labels).get("partition"): value
        for name, labels, value in samples
        if name == "tracker_consumer_lag"
    }
    return [
        f"partition {p}: applied {got.get(p, 0):.0f} of {wanted[p]:.0f}, lag {lags.get(p)}"
        for p in sorted(wanted)
        if got.get(p, 0) != wanted[p]
    ]


def gauge_table(samples: Sequence[Sample], names: Sequence[str] = REACH) -> dict[str, float]:
    """Gauge samples by name and labels, summed over workers (as ``sum by`` would)."""
    table: dict[str, float] = {}
    for name, labels, value in samples:
        if name in names:
            key = name + "{" + ",".join(f"{k}={v}" for k, v in labels) + "}"
            table[key] = table.get(key, 0.0) + value
    return {k: v for k, v in table.items() if v}
