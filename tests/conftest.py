"""Shared by every tier: a counter key no metric declares fails the test that renders it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tracker.metrics.exposition import CHECK_DECLARED


@pytest.fixture(autouse=True, scope="session")
def strict_metric_catalogue() -> Iterator[None]:
    """In production the exporter logs such a key once; here it raises, so it cannot hide.

    Session scope: module-scoped fixtures that render metrics run strict too.
    """
    previous = CHECK_DECLARED.strict
    CHECK_DECLARED.strict = True
    yield
    CHECK_DECLARED.strict = previous
