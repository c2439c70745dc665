"""When CPython's cyclic garbage collector runs in the long-running processes.

CPython passes over its young generation whenever 700 more container objects (dicts,
lists, ...) are alive than at its last pass, and every tenth pass over the next one,
and so on: a pass over the oldest generation walks nearly everything the process
holds (modules, pydantic's schemas, textblob-de's lexicon sources, state). A
collector request parses a Segment batch into thousands of dicts and lists that
live until the request is done; a worker message decodes rows into as many. So
requests set off pass after pass, and the passes find next to nothing: reference
counting frees these objects. Parsing one Segment batch took ~860 µs in a process
holding the collector's modules against ~230 µs with what start-up made frozen
(BENCHMARKS.md, "2026-12-05, midday: the garbage collector's schedule").

So once a process has started, what exists then is moved out of collection for good
(``gc.freeze``: frozen objects are never walked again, so a cycle among them would
never be freed; it is called before the process serves, while what exists is what
it keeps), and the young generation is passed over every
``YOUNG_GENERATION_ALLOCATIONS``. Cyclic garbage is still collected, only later: up
to that many young objects wait for their pass, older generations proportionally
longer.
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
