"""The ``tracker`` command group and what every subcommand shares."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from tracker.errors import TrackerError
from tracker.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """A user-facing failure prints its message and exits 2, without a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TrackerError as exc:
            click.echo(f"tracker: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def settings_from(broker: str | None = None, **overrides: Any) -> Settings:
    if broker:
        overrides["broker"] = broker
    return load_settings(**{k: v for k, v in overrides.items() if v is not None})


broker_option = click.option(
    "--broker", help="kafka://host:port[,…] (default: TRACKER_BROKER, else the local broker)"
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Real-time customer-touchpoint tracker: consented events in, journey KPIs out.

    Settings come from TRACKER_* environment variables (`tracker config` lists
    them). Without TRACKER_BROKER every command uses the local broker recorded
    in the data dir, starting one if none runs.
    """
