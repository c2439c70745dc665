"""``tracker config``: every setting with its default and meaning."""

from __future__ import annotations

import click

from tracker.cli.base import main
from tracker.settings import settings_table


@main.command("config")
@click.option("--markdown", is_flag=True, help="as the README's Markdown table")
def show_config(markdown: bool) -> None:
    """List every TRACKER_* setting with its default and meaning."""
    if markdown:
        click.echo(markdown_settings_table())
        return
    for name, default, meaning in settings_table():
        click.echo(f"{name:34} {default!s:28} {meaning}")


def markdown_settings_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, default, meaning in settings_table():
        # A | in a cell (TRACKER_EXPERIMENTS' variants) would end it: escaped, as GFM asks.
        shown = f"`{default}`".replace("|", "\\|") if default else "unset"
        cell = meaning.replace("|", "\\|")
        rows.append(f"| `{name}` | {shown} | {cell} |")
    return "\n".join(rows)
