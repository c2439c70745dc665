"""``tracker metrics describe``: the catalogue as text, JSON and the README's Markdown."""

from __future__ import annotations

import json

from click.testing import CliRunner

from tracker.cli import main
from tracker.metrics.catalogue import CATALOGUE, markdown_table


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, ["metrics", "describe", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_describe_lists_every_metric_with_its_labels_and_values() -> None:
    text = _run()
    for name in CATALOGUE:
        assert f"\n{name} (" in f"\n{text}", name
    assert "tracker_collector_events_total (counter, collector)\n" in text
    assert "    reason: no_consent, duplicate, bot\n" in text
    assert "    currency: TRACKER_CURRENCIES, else other\n" in text


def test_describe_json_is_the_catalogue() -> None:
    described = json.loads(_run("--json"))
    assert [m["name"] for m in described] == list(CATALOGUE)
    rejected = next(m for m in described if m["name"] == "tracker_events_rejected_total")
    assert rejected["type"] == "counter"
    assert rejected["process"] == "worker"
    assert rejected["help"] == "Malformed input sent to the dead-letter topic, by reason"
    reason, partition = rejected["labels"]
    assert "internal_error" in reason["values"]
    assert partition["values"] is None and partition["source"]


def test_describe_markdown_is_what_the_readme_holds() -> None:
    assert _run("--markdown") == markdown_table() + "\n"


def test_json_and_markdown_together_are_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["metrics", "describe", "--json", "--markdown"])
    assert result.exit_code == 2
    assert "exclude each other" in result.output
