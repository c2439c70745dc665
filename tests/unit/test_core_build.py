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
    """A stand-in ``tracker/core``: one module, compiled or not as each test makes it."""
    core_dir = tmp_path / "core"
    core_dir.mkdir()
    (core_dir / "sessionizer.py").write_text("RULE = 1\n")
    (tmp_path / "settings.py").write_text("GAP = 30\n")
    monkeypatch.setattr(core, "_HERE", core_dir)
    monkeypatch.setattr(core, "_MANIFEST", core_dir / "_compiled.json")
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))  # the source finder goes here
    monkeypatch.delenv("TRACKER_CORE", raising=False)
    return core_dir


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _compile(package: Path, suffix: str = EXTENSION_SUFFIXES[0]) -> None:
    (package / f"sessionizer{suffix}").write_bytes(b"")
    manifest = {
        "suffix": suffix,
        "compiled": ["sessionizer"],
        "sources": {"core/sessionizer.py": _sha("RULE = 1\n"), "settings.py": _sha("GAP = 30\n")},
    }
    (package / "_compiled.json").write_text(json.dumps(manifest))


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


def test_a_setting_changed_since_the_build_stops_the_start_too(package: Path) -> None:
    """The compiled code trusts the types of what it was built against, settings included."""
    _compile(package)
    (package.parent / "settings.py").write_text("GAP = 30.0\n")
    with pytest.raises(CoreBuildError, match=r"tracker/settings\.py changed"):
        core._choose()


def test_a_build_for_another_python_or_with_a_module_missing_is_refused(package: Path) -> None:
    _compile(package, suffix=".cpython-312-x86_64-linux-gnu.so")
    assert core._choose() == "source"  # nothing this interpreter would load
    _compile(package)
    (package / "_compiled.json").write_text(
        (package / "_compiled.json")
        .read_text()
        .replace('["sessionizer"]', '["sessionizer", "due"]')
    )
    with pytest.raises(CoreBuildError, match=r"lacks \['due'\]: run `make compile`"):
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
    manifest = ROOT / "tracker" / "core" / "_compiled.json"
    built = manifest.exists()
    if form == "" and built and core._stale(json.loads(manifest.read_text()).get("sources", {})):
        pytest.skip("the build is older than its source (make test-unit needs no rebuild)")
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
    expected = "compiled" if form == "" and built else "source"
    assert out[0] == expected
    assert out[1].endswith(".py") == (expected == "source")
