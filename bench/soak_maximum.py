"""The soak's calibration alone: a worker draining its traffic pre-filled, on a broker of its own.

``python -m bench.soak_maximum`` runs ``bench.soak.maximum`` (200 s of the soak's traffic,
logins and hand-overs included) and prints its events/s, cores and whether the counts
matched; the soak drains its traffic at 70% of it, with the state that builds up, and asks
70% of that (``bench.soak.calibrate``). Two trees alternated with it compare what a change does
to a worker on traffic that crosses partitions (BENCHMARKS.md, 2026-12-07, evening),
in ~50 s a run where the soak takes its minutes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import psutil

from bench import soak, throughput
from bench.brokers import running
from bench.plan import PARTITIONS


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="tracker-soak-maximum-"))
    with running("kafka", root) as broker:
        processes = [*broker.processes(), psutil.Process()]
        bench = throughput.Bench(broker.bootstrap, PARTITIONS, root, processes)
        result = soak.maximum(bench)
    print(
        f"soak traffic drained: {result.events_per_s:,.0f} events/s on {result.cores or 0:.2f}"
        f" cores, counts exact: {result.correct}"
    )


if __name__ == "__main__":
    main()
