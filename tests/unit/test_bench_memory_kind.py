"""Telling a worker's resident memory apart by its mappings: what holds it."""

from __future__ import annotations

import ctypes
import os
import threading
from typing import NamedTuple

import psutil
import pytest

from bench.memory_kinds import THREAD_HEAP_SIZE, kind_of, resident_by_kind

MiB = 1 << 20
ALIGNED = 0x7F7748000000  # a multiple of 64 MiB


class Map(NamedTuple):
    addr: str
    perms: str
    path: str
    rss: int


def region(start: int, size: int, path: str = "[anon]", perms: str = "rw-p") -> Map:
    return Map(f"{start:x}-{start + size:x}", perms, path, size)


def test_a_thread_heap_is_its_aligned_part_followed_by_the_reserved_rest() -> None:
    heap = region(ALIGNED, 3 * MiB)
    tail = region(ALIGNED + 3 * MiB, THREAD_HEAP_SIZE - 3 * MiB, perms="---p")
    assert kind_of(heap, tail) == "thread arenas"
    assert kind_of(region(ALIGNED, THREAD_HEAP_SIZE), None) == "thread arenas"  # grown whole


def test_an_aligned_mapping_without_the_reserved_rest_is_not_a_thread_heap() -> None:
    pymalloc_run = region(ALIGNED, 2 * MiB)
    assert kind_of(pymalloc_run, region(ALIGNED + 2 * MiB, MiB)) == "anonymous"
    assert kind_of(pymalloc_run, None) == "anonymous"
    short_tail = region(ALIGNED + 2 * MiB, MiB, perms="---p")  # a guard page, not the rest
    assert kind_of(pymalloc_run, short_tail) == "anonymous"
    assert kind_of(region(ALIGNED + MiB, 3 * MiB), None) == "anonymous"  # unaligned


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("[heap]", "malloc heap"),
        ("[anon:some name]", "anonymous"),
        ("/usr/lib/x86_64-linux-gnu/libc.so.6", "files"),
        ("[stack]", "other"),
    ],
)
def test_other_mappings_by_their_path(path: str, kind: str) -> None:
    assert kind_of(region(ALIGNED + MiB, MiB, path), None) == kind


def test_a_threads_malloc_blocks_are_counted_as_thread_arenas_in_a_live_process() -> None:
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    blocks: list[int] = []
    allocated, release = threading.Event(), threading.Event()

    def allocate() -> None:  # blocks below the mmap threshold, from this thread's arena
        blocks.extend(libc.malloc(4096) for _ in range(256))
        allocated.set()
        release.wait(30)
        for block in blocks:
            libc.free(block)

    thread = threading.Thread(target=allocate)
    thread.start()
    try:
        assert allocated.wait(30)
        maps = psutil.Process(os.getpid()).memory_maps(grouped=False)
        for i, mapping in enumerate(maps):
            start, end = (int(x, 16) for x in mapping.addr.split("-"))
            if start <= blocks[-1] < end:
                following = maps[i + 1] if i + 1 < len(maps) else None
                assert kind_of(mapping, following) == "thread arenas"
                break
        else:
            pytest.fail("no mapping holds the thread's block")
        kinds = resident_by_kind(maps)
        assert kinds["thread arenas"] > 0 and kinds["malloc heap"] > 0 and kinds["files"] > 0
        assert sum(kinds.values()) == pytest.approx(psutil.Process().memory_info().rss, rel=0.05)
    finally:
        release.set()
        thread.join()
