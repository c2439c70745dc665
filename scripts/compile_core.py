"""Compile ``tracker/core`` with mypyc, in place (``make compile``; README, Development).

The pure logic is typed throughout (mypy strict), so mypyc turns it into a C extension
from the same source: about twice the events per CPU-second on the hot path, with the
Python files still the only code anyone edits. Each ``tracker/core/X.py`` gets an
``X.cpython-*.so`` beside it, which Python imports in its place, and
``_compiled.json`` records the interpreter's extension suffix, the modules compiled and
the hash of every file they were compiled against (the core and ``tracker/settings.py``:
compiled code trusts their types): ``tracker.core`` refuses to start on a build older
than any of them (``tracker/core/__init__.py``).

Without a C compiler or Python's headers the build fails; this script then says so,
removes what it half-built, and exits 0: the tracker runs from the Python source,
exactly the same logic, slower. ``TRACKER_CORE=compiled`` makes that a start-up error
instead, for deployments that must not run slow by accident.

    python scripts/compile_core.py            # build
    python scripts/compile_core.py --require  # build; a failure fails (the image build)
    python scripts/compile_core.py --clean    # back to the Python source
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "tracker" / "core"
MANIFEST = CORE / "_compiled.json"
BUILD = ROOT / "build" / "mypyc"
GROUP = "tracker.core._compiled"  # the shared library lives in the package, not at top level

# Modules mypyc cannot or need not compile, and why.
LEFT_AS_SOURCE = {
    "__init__.py": "chooses between the compiled modules and the source",
    "steps.py": "LazySteps subclasses list, which mypyc cannot compile",
    "contract.py": "pydantic models: pydantic-core validates them, in compiled code already",
    "schemas.py": "builds JSON schemas from the pydantic models, at start-up only",
    "fast_events.py": "msgspec structs: their metaclass is msgspec's, and msgspec validates in C",
}


def sources() -> list[Path]:
    return sorted(p for p in CORE.glob("*.py") if p.name not in LEFT_AS_SOURCE)


def built_against() -> list[Path]:
    """Every file whose types the compiled code trusts: the core and the settings it reads."""
    core = sorted(p for p in CORE.glob("*.py") if p.name != "__init__.py")
    return [*core, ROOT / "tracker" / "settings.py"]


def digests() -> dict[str, str]:
    """Hashes by path under ``tracker/`` (what ``tracker/core/__init__.py`` compares)."""
    package = ROOT / "tracker"
    return {
        p.relative_to(package).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in built_against()
    }


def clean() -> None:
    for path in CORE.iterdir():
        if any(path.name.endswith(suffix) for suffix in EXTENSION_SUFFIXES):
            path.unlink()
    MANIFEST.unlink(missing_ok=True)
    shutil.rmtree(BUILD, ignore_errors=True)


def build() -> bool:
    from mypyc.build import mypycify
    from setuptools import setup

    files = sources()
    before = digests()  # taken first: an edit during the minute of the build must show
    extensions = mypycify(
        [str(p.relative_to(ROOT)) for p in files],
        group_name=GROUP,
        target_dir=str((BUILD / "c").relative_to(ROOT)),
    )
    setup(
        name="tracker-core-compiled",
        ext_modules=extensions,
        script_args=["--quiet", "build_ext", "--inplace", "--build-temp", str(BUILD / "o")],
    )
    if digests() != before:
        raise RuntimeError("a source changed while it was compiled: run it again")
    manifest = {
        "suffix": EXTENSION_SUFFIXES[0],  # this interpreter's: another's must not count
        "compiled": [p.stem for p in files],
        "sources": before,
    }
    MANIFEST.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return True


def main(argv: list[str]) -> int:
    import os

    os.chdir(ROOT)  # mypyc names modules by their paths from here
    if "--clean" in argv:
        clean()
        print("tracker/core: compiled modules removed; the tracker runs from the Python source")
        return 0
    clean()
    try:
        build()
    except BaseException as exc:  # setuptools reports a failed gcc as SystemExit
        clean()  # never half a build: extensions without their manifest
        if isinstance(exc, KeyboardInterrupt):
            raise
        if "--require" in argv:
            print(f"tracker/core: compiling with mypyc failed: {exc}", file=sys.stderr)
            return 1
        print(
            f"tracker/core: compiling with mypyc failed ({exc}); the tracker runs from the "
            "Python source, the same logic about half as fast. If mypy reported errors above, "
            "fix them (mypyc compiles only code that type-checks, tracker/settings.py and "
            "what it imports included); otherwise install a C compiler and Python's headers "
            "(Debian: gcc python3-dev). Then run `make compile` again.",
            file=sys.stderr,
        )
        return 0
    print(f"tracker/core: {len(sources())} modules compiled with mypyc")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
