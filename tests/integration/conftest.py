"""Fixtures that start real components: the embedded broker and tracker deployments.

Deployments and worker processes themselves live in ``tracker.testing.deployment``,
where the benchmarks use them too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tracker.kafka.broker import BrokerHandle, start_embedded
from tracker.metrics.samples import parse_exposition, total
from tracker.testing.deployment import Deployment, WorkerProcess, make_deployment


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def embedded_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerHandle]:
    handle = start_embedded(tmp_path_factory.mktemp("tansu"))
    yield handle
    handle.stop()


@pytest.fixture
def deployment_factory(
    embedded_broker: BrokerHandle, tmp_path: Path
) -> Iterator[Callable[..., Deployment]]:
    made: list[Deployment] = []

    def factory(**settings: str) -> Deployment:
        deployment = make_deployment(embedded_broker, tmp_path / f"d{len(made)}", **settings)
        made.append(deployment)
        return deployment

    yield factory
    failed = [bug for deployment in made for bug in internal_errors(deployment)]
    for deployment in made:
        deployment.stop()
    if failed:
        pytest.fail("; ".join(failed), pytrace=False)


def internal_errors(deployment: Deployment) -> list[str]:
    """Workers still running whose /metrics count an ``internal_error``: a bug, in any test."""
    found = []
    for worker in deployment.workers:
        if worker.process is None or worker.process.poll() is not None:
            continue
        status, body = worker.get("/metrics")
        if status != 200:
            continue
        samples = parse_exposition(body.decode())
        count = total(samples, "tracker_events_rejected_total", reason="internal_error")
        if count:
            found.append(f"worker on port {worker.port}: {count:g} internal_error")
    return found


def owned_partitions(worker: WorkerProcess) -> set[str]:
    """Input partitions a worker exports counters for (only its active ones)."""
    return {
        dict(labels)["partition"]
        for name, labels, _ in worker.samples()
        if name == "tracker_events_total" and "partition" in dict(labels)
    }


def settled(workers: list[WorkerProcess], partitions: int) -> bool:
    """Every partition exported by exactly one worker: the group has finished rebalancing."""
    seen: list[str] = []
    for worker in workers:
        if not worker.ready():
            return False
        seen.extend(owned_partitions(worker))
    return sorted(seen) == sorted(str(p) for p in range(partitions))
