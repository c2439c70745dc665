"""A process's resident memory by what holds it, told apart by its mappings (smaps).

RSS says whether a worker grows, not what grows. Its Python objects are only part of
it (a traced worker held ~107-121 MiB where untraced ones held ~250 MiB), so the soak also sums resident bytes by
the kind of mapping that holds them:

- ``malloc heap``: glibc's main arena (``[heap]``): what malloc hands out below its mmap
  threshold to the main thread, in the worker mostly the bytes of rows and messages
  (objects over 512 bytes, which pymalloc passes on to malloc) and C extensions' blocks;
- ``thread arenas``: glibc's heaps of the other threads (the Kafka consumer's thread, ...);
- ``anonymous``: the rest of the anonymous memory: pymalloc's 1 MiB arenas of objects up
  to 512 bytes (shared by all threads), blocks malloc gave a mapping of their own, and
  thread stacks. The kernel merges neighbouring mappings, so these cannot be told apart;
- ``files``: the interpreter, extension modules and whatever else is mapped from a file;
- ``other``: the stack of the main thread and the kernel's pages (``[stack]``, ``[vdso]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

# glibc's HEAP_MAX_SIZE on 64-bit: a thread's heap is mapped aligned to it and reserved
# whole, its unused tail inaccessible (``---p``) until the heap grows into it.
THREAD_HEAP_SIZE = 64 << 20


class Region(Protocol):
    """One mapping as ``psutil.Process.memory_maps(grouped=False)`` lists it."""

    @property
    def addr(self) -> str: ...  # "start-end", hex
    @property
    def perms(self) -> str: ...
    @property
    def path(self) -> str: ...  # "[anon]" for anonymous memory
    @property
    def rss(self) -> int: ...


def _bounds(region: Region) -> tuple[int, int]:
    start, end = region.addr.split("-")
    return int(start, 16), int(end, 16)


def _anonymous(region: Region) -> bool:
    return region.path.startswith("[anon") or not region.path


def _thread_heap(region: Region, following: Region | None) -> bool:
    """An aligned anonymous mapping that, with its reserved tail, spans one thread heap.

    Alignment alone is not enough: other mappings can start on a 64 MiB boundary too.
    """
    start, end = _bounds(region)
    if start % THREAD_HEAP_SIZE or not _anonymous(region):
        return False
    if (end - start) % THREAD_HEAP_SIZE == 0:
        return True  # grown to the whole reservation
    return (
        following is not None
        and following.perms.startswith("---")
        and _bounds(following) == (end, start + THREAD_HEAP_SIZE)
    )


def kind_of(region: Region, following: Region | None) -> str:
    """The kind of ``region``; ``following``: the mapping listed after it, if any."""
    if region.path == "[heap]":
        return "malloc heap"
    if _anonymous(region):
        return "thread arenas" if _thread_heap(region, following) else "anonymous"
    return "other" if region.path.startswith("[") else "files"


def resident_by_kind(regions: Sequence[Region]) -> dict[str, int]:
    """Resident bytes of each kind over ``regions`` (in address order, as smaps lists them)."""
    kinds: dict[str, int] = {}
    for i, region in enumerate(regions):
        kind = kind_of(region, regions[i + 1] if i + 1 < len(regions) else None)
        kinds[kind] = kinds.get(kind, 0) + region.rss
    return kinds
