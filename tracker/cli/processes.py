"""``tracker worker``, ``collector``, ``broker`` and ``demo``: the long-running processes."""

from __future__ import annotations

import time

import click

from tracker.cli.base import broker_option, friendly_errors, main, settings_from


@main.command()
@friendly_errors
def worker() -> None:
    """Run a stream worker: consume events, keep sessions, serve /metrics.

    Start several with the same TRACKER_WORKER_ID to share the partitions.
    Needs TRACKER_PSEUDONYM_KEY.
    """
    from tracker.stream.worker import pseudonymizer, run_worker

    settings = settings_from()
    run_worker(settings, pseudonymizer(settings, ephemeral_ok=False))


@main.command()
@broker_option
@click.option(
    "--port", type=int, default=None, help="listen port (default: TRACKER_COLLECTOR_PORT)"
)
@friendly_errors
def collector(broker: str | None, port: int | None) -> None:
    """Run the HTTP collector: web pages POST events to /v1/events, it writes them to Kafka.

    Serves /tracker.js (the browser snippet), /healthz, /readyz and /metrics;
    the demo shop at /demo/ with TRACKER_COLLECTOR_DEMO=true. Scale it
    separately from the workers; it holds no state.
    """
    from tracker.collector import run_collector

    run_collector(settings_from(broker, collector_port=port))


@main.command()
@click.option("--port", type=int, default=None, help="listen port (default: a free one)")
@friendly_errors
def broker(port: int | None) -> None:
    """Run the embedded local broker (Tansu, memory only) until Ctrl-C.

    Other commands started with the same TRACKER_DATA_DIR find and reuse it.
    """
    from tracker.kafka.broker import start_embedded, stop_on_signals

    settings = settings_from()
    handle = start_embedded(settings.data_dir, port)
    stop_on_signals(handle)
    click.echo(f"local broker: {handle.url} (recorded in {settings.data_dir}/broker.json)")
    try:
        while handle.process is not None and handle.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()


@main.command()
@click.option("--rate", type=float, default=40.0, show_default=True, help="events per second")
@friendly_errors
def demo(rate: float) -> None:
    """Broker + worker + traffic generator + live KPI summary, in one command."""
    from tracker.demo import run_demo

    run_demo(rate)
