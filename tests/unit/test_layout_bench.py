"""Benchmarks and the tracker package never depend on the test suite.

``bench/`` reuses deployments, fleets, producers and the Kafka cluster from
``tracker.testing``; ``tests/`` may import those, never the other way round, so
a benchmark runs from an installed package and moving a test cannot break it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports by name: import statements and import_module("...")."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def test_no_module_of_bench_or_tracker_imports_tests() -> None:
    sources = sorted(p for folder in ("bench", "tracker") for p in (ROOT / folder).rglob("*.py"))
    assert len(sources) > 20 and any(p.parts[-2] == "bench" for p in sources)
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sources
        for name in sorted(_imported_modules(path))
        if name == "tests" or name.startswith("tests.")
    ]
    assert offenders == []


def test_the_check_sees_an_import_of_tests(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text(
        "import tests.support\n"
        "from tests.integration.conftest import make_deployment\n"
        "importlib.import_module('tests.unit.helpers')\n"
    )
    assert _imported_modules(module) >= {
        "tests.support",
        "tests.integration.conftest",
        "tests.unit.helpers",
    }
