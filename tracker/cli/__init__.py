"""The ``tracker`` command: one module per group of subcommands, registered on import."""

from tracker.cli import configuration, metrics, privacy, processes, traffic
from tracker.cli.base import main
from tracker.cli.configuration import markdown_settings_table

__all__ = [
    "configuration",
    "main",
    "markdown_settings_table",
    "metrics",
    "privacy",
    "processes",
    "traffic",
]
