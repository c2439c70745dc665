"""The worker's exporter over partitions held in-process: the reference pipeline, the
benchmarks and the unit tests read the same metrics the worker serves, without a worker.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, generate_latest

from tracker.core.accounts import AccountProcessor
from tracker.core.partition import PartitionProcessor
from tracker.core.pipeline_config import PipelineConfig
from tracker.metrics.exposition import StateExporter, WorkerView
from tracker.metrics.samples import Sample, parse_exposition


def offline_exporter(
    processors: Mapping[int, PartitionProcessor],
    config: PipelineConfig,
    now_ms: int,
    accounts: Mapping[int, AccountProcessor] | None = None,
) -> StateExporter:
    """The exporter a worker owning ``processors`` would serve at ``now_ms``, lags zero.

    The clock is fixed when it is built: build another after the stream moves on.
    """
    account_processors: Mapping[int, AccountProcessor] = accounts if accounts is not None else {}
    return StateExporter(
        WorkerView(
            partitions=lambda: processors,
            now_ms=lambda: now_ms,
            consumer_lag=lambda _p: 0,
            identity_lag=lambda _p: 0,
            funnel=config.rules.labels.funnel,
            repurchase_seconds=config.repurchase_seconds,
            accounts=lambda: account_processors,
            currencies=config.rules.labels.currencies,
        )
    )


def offline_registry(exporter: StateExporter) -> CollectorRegistry:
    """``exporter`` as a registry of its own, for prometheus-client's formatter."""
    registry = CollectorRegistry()
    registry.register(exporter)
    return registry


def offline_samples(exporter: StateExporter) -> list[Sample]:
    """Every sample ``exporter`` serves, parsed back from the exposition text."""
    return parse_exposition(generate_latest(offline_registry(exporter)).decode())
