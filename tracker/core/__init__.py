"""The tracker's pure logic: contract, consent, sessions, aggregates, accounts. Plain Python with time passed in; nothing here imports faust, aiokafka, kafka or prometheus_client (tests/unit/test_layout.py enforces it).

``make compile`` builds most of these modules with mypyc (``scripts/compile_core.py``);
Python then imports the extension beside each ``.py`` in its place. This module decides,
once, before any of them is imported, which form runs (``TRACKER_CORE``):

- unset: the compiled modules when they are built, else the source (a build older than
  its source is an error, below);
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


def _extensions(suffix: str = EXTENSION_SUFFIXES[0]) -> set[str]:
    """Modules built for this interpreter (``X.cpython-311-….so``: another's never loads)."""
    return {p.name[: -len(suffix)] for p in _HERE.iterdir() if p.name.endswith(suffix)}


def _stale(sources: dict[str, str]) -> list[str]:
    """The files (under ``tracker/``) changed since the build compiled against them."""
    package = _HERE.parent
    changed = []
    for name, expected in sources.items():
        source = package / name
        if not source.exists() or hashlib.sha256(source.read_bytes()).hexdigest() != expected:
            changed.append(name)
    return sorted(changed)


def _choose() -> str:
    """'compiled' or 'source'; installs the source finder for the latter."""
    wanted = os.environ.get("TRACKER_CORE", "")  # exactly as Settings.core reads it
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
    manifest = json.loads(_MANIFEST.read_text())
    if not {"suffix", "compiled", "sources"} <= set(manifest):  # an older make compile's
        raise CoreBuildError("tracker/core/_compiled.json is outdated: run `make compile`")
    missing = set(manifest["compiled"]) - built
    if manifest["suffix"] != EXTENSION_SUFFIXES[0] or missing:
        raise CoreBuildError(
            f"tracker/core was compiled for {manifest['suffix']} (this Python loads "
            f"{EXTENSION_SUFFIXES[0]}) or lacks {sorted(missing)}: run `make compile`"
        )
    stale = _stale(manifest["sources"])
    if stale:
        files = ", ".join(f"tracker/{name}" for name in stale)
        raise CoreBuildError(
            f"{files} changed after `make compile` built tracker/core: run `make compile` "
            "again, or `make uncompile` (or TRACKER_CORE=source) to run the Python source"
        )
    return "compiled"


FORM = _choose()  # which form of this package runs: 'compiled' or 'source'
