"""When CPython's cyclic garbage collector runs in the long-running processes.

The collector (``gc``) passes over its young generation every 700 allocations of
container objects, and from time to time over every tracked object of the process. A
collector request parses a Segment batch into thousands of dicts and lists; a worker
message decodes rows into as many. Reference counting frees nearly all of them, so
those passes find next to nothing, yet each older pass walks everything the process
holds: modules, pydantic's schemas, the sentiment lexicons, state. Parsing one
Segment batch took ~860 µs in a process holding the collector's modules against ~230
with what start-up made frozen (BENCHMARKS.md, 2026-12-05, midday).

So once a process has started, what exists then is moved out of collection for good
(``gc.freeze``, which CPython documents for this), and the young generation is passed
over every ``YOUNG_GENERATION_ALLOCATIONS`` allocations. Cyclic garbage is still
collected, only later; what the wait holds is bounded by that count.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION_ALLOCATIONS = 50_000


def settle_heap() -> None:
    """Call once, after start-up and before serving."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_ALLOCATIONS, middle, old)
