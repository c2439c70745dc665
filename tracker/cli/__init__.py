"""The ``tracker`` command: one module per group of subcommands, registered on import."""

from tracker.cli import configuration, dlq, metrics, privacy, processes, send, traffic
from tracker.cli.base import main
from tracker.cli.configuration import markdown_settings_table

__all__ = [
    "configuration",
    "dlq",
    "main",
    "markdown_settings_table",
    "metrics",
    "privacy",
    "processes",
    "send",
    "traffic",
]
