"""``/metrics`` render time: prometheus-client's ``generate_latest`` against ``render``.

The state of ``bench.state`` (N customers' journeys through the pure processors, their
sessions still open) is exported once with the library's renderer and once with the
worker's (``tracker.metrics.render``), alternating, in one process, after checking that
both write the same bytes. The ratio is the figure to compare across machines. Last, what
a poller of the progress counters alone costs (``/metrics?name[]=...``, ``bench.latency``).

    python -m bench.scrape --customers 20000
"""

from __future__ import annotations

import argparse

from prometheus_client import generate_latest

from bench.expect import PROGRESS_COUNTERS
from bench.state import (
    PARTITIONS,
    RowStore,
    feed,
    messages,
    pipeline_config,
    scrape_ms,
    templates,
)
from tracker.metrics.render import Only, render
from tracker.testing.offline_exporter import offline_exporter, offline_registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    config = pipeline_config()
    processors = {p: config.processor(p, RowStore(), PARTITIONS) for p in range(PARTITIONS)}
    _events, last = feed(processors, messages(args.customers, templates()))
    exporter = offline_exporter(processors, config, last)
    registry = offline_registry(exporter)
    text = render(registry)
    if text != generate_latest(registry):
        raise SystemExit("render and generate_latest wrote different text")
    print(f"{args.customers:,} customers, {text.count(10):,} lines, {len(text):,} bytes")
    for _ in range(args.rounds):
        library, ours = scrape_ms(registry, generate_latest), scrape_ms(registry, render)
        print(f"generate_latest {library:.1f} ms, render {ours:.1f} ms: {ours / library:.2f}x")
    progress = Only([exporter], PROGRESS_COUNTERS)
    print(f"progress counters alone (name[]): {scrape_ms(progress, render):.1f} ms")


if __name__ == "__main__":
    main()
