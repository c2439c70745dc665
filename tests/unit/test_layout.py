"""The package layout is the architecture: these tests keep it that way.

- ``tracker.core`` is pure: it imports without faust, aiokafka, kafka or prometheus_client.
- Faust is imported only in ``tracker.stream``.
- Production code never imports the test oracle (``tracker.testing``) or ``tests``.
- Modules stay short enough to read in one sitting (400 lines), functions under 60 lines
  unless a ``# long: <reason>`` comment right above the ``def`` says why.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import tracker
import tracker.core

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = ("faust", "aiokafka", "kafka", "prometheus_client", "mode")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules(package: object) -> list[str]:
    path = package.__path__  # type: ignore[attr-defined]
    prefix = package.__name__ + "."  # type: ignore[attr-defined]
    return sorted(m.name for m in pkgutil.walk_packages(path, prefix))


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_imports_with_stream_and_metrics_libraries_blocked() -> None:
    modules = _modules(tracker.core)
    assert "tracker.core.partition" in modules and "tracker.core.sessionizer" in modules
    program = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ImportError("blocked in tracker.core: " + name)
        return None
sys.meta_path.insert(0, Block())
import importlib
for name in {modules!r}:
    importlib.import_module(name)
print("ok", len({modules!r}))
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok")


def test_faust_is_imported_only_in_tracker_stream() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in _sources("tracker")
        if "stream" not in path.relative_to(ROOT / "tracker").parts[:1]
        and any(name.split(".")[0] in ("faust", "mode") for name in _imports(path))
    ]
    assert offenders == []


def test_production_code_never_imports_the_test_oracle() -> None:
    offenders = []
    for path in _sources("tracker"):
        relative = path.relative_to(ROOT / "tracker")
        if relative.parts[0] in ("testing", "cli") or relative.name == "demo.py":
            continue  # the oracle itself; commands that drive generated traffic
        for name in _imports(path):
            if name.startswith(("tracker.testing", "tests")):
                offenders.append(f"{relative}: {name}")
    assert offenders == []


def test_modules_are_short_enough_to_read_in_one_sitting() -> None:
    long_modules = {
        str(path.relative_to(ROOT)): lines
        for path in _sources("tracker", "bench", "tests")
        if (lines := path.read_text().count("\n")) > MAX_MODULE_LINES
    }
    assert long_modules == {}


def test_long_functions_say_why() -> None:
    unexplained = []
    for path in _sources("tracker", "bench", "tests"):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES and not _reason_above(lines, first):
                unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length})")
    assert unexplained == []


def _reason_above(lines: list[str], first: int) -> bool:
    """A comment block right above the definition, one of whose lines starts '# long:'."""
    index = first - 2
    while index >= 0 and lines[index].strip().startswith("#"):
        if lines[index].strip().startswith("# long:"):
            return True
        index -= 1
    return False


def test_the_tracker_package_has_no_stray_top_level_modules() -> None:
    """New code goes into the package of its concern; these are the only loose modules."""
    top = {m.name for m in pkgutil.iter_modules(tracker.__path__) if not m.ispkg}
    assert top == {"__main__", "demo", "errors", "heap", "settings"}
