"""The tracker's pure logic: contract, consent, sessions, aggregates, accounts. Plain Python with time passed in; nothing here imports faust, aiokafka, kafka or prometheus_client (tests/unit/test_layout.py enforces it).

``make compile`` builds most of these modules with mypyc (``scripts/compile_core.py``);
Python then imports the extension beside each ``.py`` in its place. This module decides,
once, before any of them is imported, which form runs (``TRACKER_CORE``):

- unset: the compiled modules when they are built and match their source, else the source;
- ``compiled``: the compiled modules, or an error at start (a deployment that must not
  run at half speed by accident);
- ``source``: the Python source even when compiled modules exist (tests that patch the
  logic, debugging).

A compiled module whose source changed since the build is never run: that would be
yesterday's logic under today's file, so importing it fails with what to run instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from pathlib import Path
from types import ModuleType

_HERE = Path(__file__).parent
_MANIFEST = _HERE / "_compiled.json"


class CoreBuildError(ImportError):
    """The compiled modules cannot run as asked (``TRACKER_CORE``)."""


class _SourceFinder(MetaPathFinder):
    """Imports ``tracker.core.X`` from ``X.py`` even when ``X.cpython-*.so`` is beside it."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != __name__:
            return None
        source = _HERE / f"{name}.py"
        return importlib.util.spec_from_file_location(fullname, source) if source.exists() else None


def _extensions() -> set[str]:
    names = set()
    for path in _HERE.iterdir():
        for suffix in EXTENSION_SUFFIXES:
            if path.name.endswith(suffix):
                names.add(path.name[: -len(suffix)])
                break
    return names


def _stale(manifest: dict[str, str]) -> list[str]:
    changed = []
    for name, expected in manifest.items():
        source = _HERE / f"{name}.py"
        if not source.exists() or hashlib.sha256(source.read_bytes()).hexdigest() != expected:
            changed.append(name)
    return sorted(changed)


def _choose() -> str:
    """'compiled' or 'source'; installs the source finder for the latter."""
    wanted = os.environ.get("TRACKER_CORE", "").strip().lower()
    if wanted not in ("", "compiled", "source"):
        raise CoreBuildError(f"TRACKER_CORE={wanted!r}: use 'compiled', 'source' or leave it unset")
    built = _extensions()
    if wanted == "source" or (not built and wanted == ""):
        if built:
            sys.meta_path.insert(0, _SourceFinder())
        return "source"
    if not built:
        raise CoreBuildError(
            "TRACKER_CORE=compiled, but tracker/core is not compiled: run `make compile` "
            "(it needs gcc and Python's headers)"
        )
    if not _MANIFEST.exists():  # extensions built by hand: nothing says what source they are
        raise CoreBuildError(
            "tracker/core holds compiled modules without _compiled.json: run `make compile` "
            "(or `make uncompile` to run the Python source)"
        )
    stale = _stale(json.loads(_MANIFEST.read_text()))
    if stale:
        files = ", ".join(f"tracker/core/{name}.py" for name in stale)
        raise CoreBuildError(
            f"{files} changed after `make compile` built tracker/core: run `make compile` "
            "again, or `make uncompile` (or TRACKER_CORE=source) to run the Python source"
        )
    return "compiled"


FORM = _choose()  # which form of this package runs: 'compiled' or 'source'
