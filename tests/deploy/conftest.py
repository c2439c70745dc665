"""Tests of deploy/: promtool, docker-compose, schema validators (marker ``deploy``)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "deploy: checks deploy/ with promtool, docker-compose and schema validators"
    )
