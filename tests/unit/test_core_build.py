"""Which form of ``tracker.core`` runs: compiled when built and current, else the source."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

import tracker.core as core
from tracker.core import CoreBuildError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in package directory: one module, compiled or not as each test makes it."""
    (tmp_path / "sessionizer.py").write_text("RULE = 1\n")
    monkeypatch.setattr(core, "_HERE", tmp_path)
    monkeypatch.setattr(core, "_MANIFEST", tmp_path / "_compiled.json")
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))  # the source finder goes here
    monkeypatch.delenv("TRACKER_CORE", raising=False)
    return tmp_path


def _compile(package: Path, source: str = "RULE = 1\n") -> None:
    (package / f"sessionizer{EXTENSION_SUFFIXES[0]}").write_bytes(b"")
    digest = hashlib.sha256(source.encode()).hexdigest()
    (package / "_compiled.json").write_text(json.dumps({"sessionizer": digest}))


def test_without_a_build_the_source_runs(package: Path) -> None:
    finders = list(sys.meta_path)
    assert core._choose() == "source"
    assert sys.meta_path == finders  # nothing to steer past


def test_a_current_build_runs_compiled(package: Path) -> None:
    _compile(package)
    assert core._choose() == "compiled"


def test_a_module_changed_since_the_build_stops_the_start_and_says_what_to_run(
    package: Path,
) -> None:
    _compile(package)
    (package / "sessionizer.py").write_text("RULE = 2\n")
    with pytest.raises(CoreBuildError, match=r"tracker/core/sessionizer\.py changed.*make compile"):
        core._choose()


def test_source_can_be_asked_for_over_a_build(
    package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _compile(package)
    (package / "sessionizer.py").write_text("RULE = 2\n")  # even a stale one: it is not run
    monkeypatch.setenv("TRACKER_CORE", "source")
    assert core._choose() == "source"
    finder = next(f for f in sys.meta_path if isinstance(f, core._SourceFinder))
    spec = finder.find_spec("tracker.core.sessionizer", None)
    assert spec is not None and spec.origin == str(package / "sessionizer.py")
    assert finder.find_spec("tracker.stream.app", None) is None


def test_compiled_can_be_required(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_CORE", "compiled")
    with pytest.raises(CoreBuildError, match="not compiled: run `make compile`"):
        core._choose()
    _compile(package)
    assert core._choose() == "compiled"


def test_extensions_without_the_manifest_are_not_trusted(package: Path) -> None:
    _compile(package)
    (package / "_compiled.json").unlink()
    with pytest.raises(CoreBuildError, match=r"without _compiled\.json: run `make compile`"):
        core._choose()


def test_an_unknown_form_is_refused(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_CORE", "fast")
    with pytest.raises(CoreBuildError, match="use 'compiled', 'source' or leave it unset"):
        core._choose()


@pytest.mark.parametrize("form", ["source", ""])
def test_the_interpreter_imports_the_form_chosen(form: str) -> None:
    """In a fresh interpreter, as a worker starts: the module file matches ``FORM``."""
    env = {**os.environ, "TRACKER_CORE": form}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import tracker.core as c, tracker.core.sessionizer as s; print(c.FORM, s.__file__)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    built = (ROOT / "tracker" / "core" / "_compiled.json").exists()
    expected = "compiled" if form == "" and built else "source"
    assert out[0] == expected
    assert out[1].endswith(".py") == (expected == "source")
