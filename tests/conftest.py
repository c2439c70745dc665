"""Shared by every tier: a counter key no metric declares fails the test that renders it,
and so does an ``internal_error`` (a message the tracker failed on: a bug)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tracker.core import FORM as CORE_FORM
from tracker.core.partition import PartitionProcessor
from tracker.metrics.exposition import CHECK_DECLARED

# `make test` runs a few dozen examples the same way every time; `make fuzz` many more,
# freshly drawn (HYPOTHESIS_PROFILE=fuzz). No deadline: the 2 cores are shared.
settings.register_profile("unit", max_examples=40, deadline=None, derandomize=True, database=None)
settings.register_profile(
    "fuzz",
    max_examples=600,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "unit"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Fault injection patches module functions; compiled callers never look them up."""
    if CORE_FORM != "compiled":
        return
    skip = pytest.mark.skip(reason="patches tracker.core; runs with TRACKER_CORE=source")
    for item in items:
        if item.get_closest_marker("source_core"):
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def strict_metric_catalogue() -> Iterator[None]:
    """In production the exporter logs such a key once; here it raises, so it cannot hide.

    Session scope: module-scoped fixtures that render metrics run strict too.
    """
    previous = CHECK_DECLARED.strict
    CHECK_DECLARED.strict = True
    yield
    CHECK_DECLARED.strict = previous


@pytest.fixture(autouse=True)
def no_internal_error(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Fail a test in which a partition dead-letters a message as ``internal_error``.

    Tests that inject a failure on purpose say so: ``@pytest.mark.internal_error_expected``.
    Recorded, not raised on the spot: the wiring catches what a partition raises. Worker
    processes are checked by the integration fixtures, from their /metrics.
    """
    if request.node.get_closest_marker("internal_error_expected"):
        yield
        return
    failures: list[str] = []
    original = PartitionProcessor.fail

    def fail(self: PartitionProcessor, value: bytes | None, offset: int, error: Exception) -> Any:
        failures.append(f"partition {self.partition} offset {offset}: {error!r}")
        return original(self, value, offset, error)

    monkeypatch.setattr(PartitionProcessor, "fail", fail)
    yield
    if failures:
        pytest.fail("internal_error: " + "; ".join(failures), pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    """A failed attempt that was rerun keeps its traceback in the summary.

    pytest-rerunfailures (>= 16.3) otherwise reports only the last attempt, and twice a
    first attempt's reason was lost (RELIABILITY.md). Set here rather than in addopts so a
    pytest without the plugin still runs.
    """
    if hasattr(config.option, "rerun_show_tracebacks"):
        config.option.rerun_show_tracebacks = True
