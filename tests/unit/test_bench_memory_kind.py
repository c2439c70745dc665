"""Telling a worker's resident memory apart by mapping: what holds it."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from bench.procs import Proc, memory_kind


@pytest.mark.parametrize(
    ("addr", "path", "kind"),
    [
        ("5572ed600000-5572f5600000", "[heap]", "malloc heap"),
        ("7f7748000000-7f774c000000", "[anon]", "thread arenas"),  # 64 MiB aligned
        ("7f7748000000-7f774c000000", "", "thread arenas"),
        ("7f7727e00000-7f7728600000", "[anon]", "anonymous"),  # pymalloc or an mmapped block
        ("7f7727e00000-7f7728600000", "/usr/lib/libc.so.6", "files"),
        ("7ffd12345000-7ffd12366000", "[stack]", "other"),
    ],
)
def test_each_mapping_is_told_apart_by_its_path_and_alignment(
    addr: str, path: str, kind: str
) -> None:
    assert memory_kind(addr, path) == kind


def test_the_kinds_of_a_live_process_add_up_to_its_resident_memory() -> None:
    proc = Proc(["true"], {}, 0, Path("/dev/null"))
    proc.ps = psutil.Process(os.getpid())
    kinds = proc.rss_by_kind()
    assert kinds["malloc heap"] > 0 and kinds["files"] > 0
    assert sum(kinds.values()) == pytest.approx(proc.rss(), rel=0.05)
