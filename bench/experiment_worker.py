"""The tracker worker with a proposed change applied at start-up, to measure its gain.

    BENCH_PATCHES=fetch_wait python -m bench.experiment_worker

``fetch_wait``: Faust creates its consumer with ``fetch_max_wait_ms=1500``
(hard-coded in ``faust.transport.drivers.aiokafka``). A fetch that goes out
while every partition with data still has records buffered asks only for
idle partitions (changelogs, the account-activity topic, the assignor's
topic) and the broker holds it for the full 1.5 s; the agent then runs dry.
Capping the wait (here 10 ms) is the proposed change to ``tracker/app.py``.

``linger``: Faust's producer sends with ``linger_ms=0``, so under live
traffic every changelog row, activity and dead letter goes out in a produce
request of its own; ``producer_linger`` of 5 ms lets the records of a few
messages share one request.
"""

from __future__ import annotations

import os
from typing import Any

from bench.noop_worker import cap_fetch_wait

FETCH_WAIT_MS = 10


def linger(seconds: float = 0.005) -> None:
    from tracker import app

    original = app.faust_options

    def options(*args: Any, **kwargs: Any) -> dict[str, Any]:
        result = original(*args, **kwargs)
        result["producer_linger"] = seconds
        return result

    app.faust_options = options


def main() -> None:
    patches = {p.strip() for p in os.environ.get("BENCH_PATCHES", "").split(",") if p.strip()}
    unknown = patches - {"fetch_wait", "linger"}
    if unknown:
        raise SystemExit(f"bench.experiment_worker: unknown patches {sorted(unknown)}")
    if "fetch_wait" in patches:
        cap_fetch_wait(FETCH_WAIT_MS)
    if "linger" in patches:
        linger()
    from tracker.cli import main as tracker_main

    tracker_main(["worker"])


if __name__ == "__main__":
    main()
