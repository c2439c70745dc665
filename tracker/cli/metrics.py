"""``tracker metrics describe``: every exported metric, from the catalogue."""

from __future__ import annotations

import json
from typing import Any

import click

from tracker.cli.base import main
from tracker.metrics.catalogue import CATALOGUE, MetricSpec, markdown_table


@main.group("metrics")
def metrics() -> None:
    """The metrics the worker and the collector export."""


@metrics.command("describe")
@click.option("--json", "as_json", is_flag=True, help="as a JSON list, one object per metric")
@click.option("--markdown", is_flag=True, help="as the README's Markdown tables")
def describe(as_json: bool, markdown: bool) -> None:
    """List every metric: name, type, exporting process, help, labels and their values."""
    if as_json and markdown:
        raise click.UsageError("--json and --markdown exclude each other")
    if as_json:
        click.echo(json.dumps([metric_json(s) for s in CATALOGUE.values()], indent=2))
    elif markdown:
        click.echo(markdown_table())
    else:
        click.echo("\n\n".join(metric_text(s) for s in CATALOGUE.values()))


def metric_text(spec: MetricSpec) -> str:
    lines = [f"{spec.name} ({spec.kind}, {spec.process})", f"    {spec.help}"]
    lines += [f"    {label.name}: {label.describe()}" for label in spec.labels]
    return "\n".join(lines)


def metric_json(spec: MetricSpec) -> dict[str, Any]:
    """What a dashboard or alert author needs; the internal counter keys stay out."""
    labels = [
        {"name": label.name, "values": list(label.values) or None, "source": label.source or None}
        for label in spec.labels
    ]
    return {
        "name": spec.name,
        "type": spec.kind,
        "process": spec.process,
        "help": spec.help,
        "labels": labels,
    }
