"""Where Python allocated a worker's memory, when it runs under ``tracemalloc``.

``GET /debug/memory`` counts the parts the worker knows it holds (``stream.memory_report``).
What grows outside them (Faust's and aiokafka's structures, buffers, caches of libraries)
needs the allocations themselves: started with ``PYTHONTRACEMALLOC=N`` (Python's own
variable, N frames a trace), the worker answers ``/debug/memory?traced=1`` with the
bytes Python has allocated and not freed, by site (the N innermost frames), and how
each site changed since the previous such answer. Asking at the start and the end of a
span attributes that span's growth (docs/operations.md#memory).

Tracing costs CPU on every allocation and memory for every live block; each answer
copies every trace (seconds on a loaded worker, so the page asks for it in a thread;
tens of MiB for that moment, which RSS may keep) and holds the sites, not the traces,
until the next. The compiled core's functions have no frames, so what they allocate
is booked to the Python line that called into the core.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

RawTrace = tuple[int, int, tuple[tuple[str, int], ...], int]  # domain, size, frames, depth
# What ``take_snapshot`` reads; typeshed leaves the module's private name out.
_get_traces: Callable[[], list[RawTrace]] = tracemalloc._get_traces  # type: ignore[attr-defined]

TOP = 25  # sites in each list of an answer

Site = tuple[str, ...]  # "file:line" of its frames, innermost first
OWN = frozenset({__file__, tracemalloc.__file__})  # the answer's own allocations


def sites_now() -> dict[Site, tuple[int, int]]:
    """Bytes and blocks by site of every traced allocation, but this module's and
    tracemalloc's own.

    From the raw traces: ``Snapshot.statistics`` builds a ``Trace`` and a ``Traceback``
    per block and took 17 s for the 610,000 blocks of a process holding the worker's
    modules and lexicons (a 2-core machine, beside a benchmark), this ~2.5 s.
    """
    sizes: dict[tuple[tuple[str, int], ...], list[int]] = {}
    for _domain, size, frames, _depth in _get_traces():  # innermost first
        held = sizes.get(frames)
        if held is None:
            sizes[frames] = [size, 1]
        else:
            held[0] += size
            held[1] += 1
    return {
        tuple(f"{name}:{line}" for name, line in frames): (size, count)
        for frames, (size, count) in sizes.items()
        if not frames or frames[0][0] not in OWN
    }


@dataclass
class TracedSites:
    """The last answer's bytes and blocks by site, to report each site's change."""

    top: int = TOP
    _last: dict[Site, tuple[int, int]] | None = field(default=None, repr=False)

    def answer(self) -> dict[str, Any] | None:
        """Sites by size and by change since the previous answer; None when not tracing."""
        if not tracemalloc.is_tracing():
            return None
        sites = sites_now()
        current = total(sites)
        report: dict[str, Any] = {
            "frames": tracemalloc.get_traceback_limit(),
            "traced_bytes": current,
            "sites": [entry(site, *sized) for site, sized in _largest(sites, self.top)],
        }
        if self._last is not None:
            report["change_bytes"] = current - total(self._last)
            report["changed"] = changes(self._last, sites, self.top)
        self._last = sites
        return report


def total(sites: dict[Site, tuple[int, int]]) -> int:
    return sum(size for size, _ in sites.values())


def entry(site: Site, size: int, count: int) -> dict[str, Any]:
    return {"where": list(site), "bytes": size, "blocks": count}


def _largest(sites: dict[Site, tuple[int, int]], top: int) -> list[tuple[Site, tuple[int, int]]]:
    return sorted(sites.items(), key=lambda item: item[1][0], reverse=True)[:top]


def changes(
    before: dict[Site, tuple[int, int]], after: dict[Site, tuple[int, int]], top: int
) -> list[dict[str, Any]]:
    """The ``top`` sites whose bytes moved most (grew or shrank), with the moves."""
    moved = []
    for site in before.keys() | after.keys():
        size_before, count_before = before.get(site, (0, 0))
        size_after, count_after = after.get(site, (0, 0))
        if size_after != size_before:
            moved.append(entry(site, size_after - size_before, count_after - count_before))
    moved.sort(key=lambda change: abs(change["bytes"]), reverse=True)
    return moved[:top]
