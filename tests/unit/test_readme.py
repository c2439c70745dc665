"""The README's configuration table and metric list stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

from tracker.cli import markdown_settings_table
from tracker.metrics.catalogue import CATALOGUE, markdown_table

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_readme_lists_every_setting_exactly() -> None:
    block = re.search(
        r"<!-- settings-table:start -->\n(.*)\n<!-- settings-table:end -->", README, re.S
    )
    assert block is not None
    assert block.group(1) == markdown_settings_table(), "run `tracker config --markdown`"


def test_readme_lists_every_metric_exactly() -> None:
    block = re.search(r"<!-- metrics:begin -->\n(.*)\n<!-- metrics:end -->", README, re.S)
    assert block is not None
    assert block.group(1) == markdown_table(), "run `tracker metrics describe --markdown`"


def _documented_names() -> set[str]:
    """Metric names in backticks, with `a_{b,c}_d` expanded."""
    names = set()
    for token in re.findall(r"`(tracker_[a-z_{},]+)`", README):
        match = re.match(r"(.*)\{([a-z_,]+)\}(.*)", token)
        if match:
            names.update(f"{match[1]}{part}{match[3]}" for part in match[2].split(","))
        else:
            names.add(token)
    return names


def test_readme_documents_every_metric() -> None:
    assert set(CATALOGUE) <= _documented_names()


def test_readme_names_only_declared_metrics() -> None:
    """Prose outside the generated table names no metric that does not exist."""
    documented = {re.sub(r"_total[a-z]+$", "_total", name) for name in _documented_names()}
    assert documented <= set(CATALOGUE), documented - set(CATALOGUE)
