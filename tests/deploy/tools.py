"""Paths and external tools shared by the deploy tests.

A missing tool fails the test with the command that installs it: these
checks must not pass silently on a machine that cannot run them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from tracker.metrics.catalogue import CATALOGUE

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
RULE_TESTS_DIR = PROMETHEUS_DIR / "tests"
GRAFANA_DIR = DEPLOY / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "touchpoints-overview.json"
COMPOSE_FILE = DEPLOY / "compose" / "docker-compose.yml"
K8S_DIR = DEPLOY / "k8s"
INSTALL_HINT = "run: bash tests/deploy/install.sh .venv"
# A tracker_* series name in PromQL; recording rules (level:metric:ops) have colons around theirs.
SERIES = re.compile(r"(?<![:\w])tracker_[a-z0-9_]+(?![:\w])")


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


def rule_test_files() -> list[Path]:
    return sorted(RULE_TESTS_DIR.glob("*.yml"))


def tool(name: str) -> str:
    """Absolute path of a command-line tool (PATH, then the venv's bin); fails if absent."""
    found = shutil.which(name)
    if found is None:
        candidate = Path(sys.executable).parent / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            found = str(candidate)
    if found is None:
        pytest.fail(f"{name} is not installed: {INSTALL_HINT}", pytrace=False)
    return found


def run(args: Sequence[str | Path], cwd: Path = REPO, timeout: float = 300) -> str:
    """Run a command; fail the test with its output if it exits non-zero."""
    completed = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        command = " ".join(str(arg) for arg in args)
        pytest.fail(f"`{command}` exited {completed.returncode}:\n{output}", pytrace=False)
    return output


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def rules_of(paths: Sequence[Path]) -> Iterator[dict[str, Any]]:
    """Every rule (recording and alerting) of the given rule files."""
    for path in paths:
        for group in load_yaml(path)["groups"]:
            yield from group["rules"]


def write_rule_file(path: Path, exprs: Sequence[str], prefix: str = "check") -> Path:
    """A rule file recording each expression, for `promtool check rules`."""
    rules = [{"record": f"{prefix}:expr_{i}", "expr": expr} for i, expr in enumerate(exprs)]
    path.write_text(yaml.safe_dump({"groups": [{"name": prefix, "rules": rules}]}))
    return path


def undeclared_series(exprs: Iterable[str]) -> set[str]:
    """``tracker_*`` series in PromQL that no declared metric exposes and no rule records."""
    known = {name for spec in CATALOGUE.values() for name in spec.series()}
    known |= {rule["record"] for rule in rules_of(rule_files()) if "record" in rule}
    return {name for expr in exprs for name in SERIES.findall(expr)} - known
