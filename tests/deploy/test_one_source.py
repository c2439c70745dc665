"""The rules live once, in deploy/prometheus/rules; compose mounts them, k8s generates from them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.tools import (
    COMPOSE_FILE,
    DEPLOY,
    K8S_DIR,
    RULES_DIR,
    load_yaml,
    load_yaml_documents,
    rule_files,
    run,
    tool,
)

pytestmark = pytest.mark.deploy

GENERATOR = K8S_DIR / "generate_prometheusrule.py"
GENERATED = K8S_DIR / "prometheusrule.yaml"


def test_committed_prometheusrule_equals_a_fresh_generation() -> None:
    fresh = subprocess.run(
        [sys.executable, GENERATOR, "--stdout"], capture_output=True, text=True, check=True
    ).stdout
    assert GENERATED.read_text(encoding="utf-8") == fresh, (
        "deploy/k8s/prometheusrule.yaml is stale: python deploy/k8s/generate_prometheusrule.py"
    )
    check = subprocess.run([sys.executable, GENERATOR, "--check"], check=False)
    assert check.returncode == 0


def test_prometheusrule_holds_exactly_the_rule_files_groups() -> None:
    (manifest,) = load_yaml_documents(GENERATED)
    groups = [group for path in rule_files() for group in load_yaml(path)["groups"]]
    assert manifest["spec"]["groups"] == groups


def test_generated_groups_pass_promtool(tmp_path: Path) -> None:
    (manifest,) = load_yaml_documents(GENERATED)
    extracted = tmp_path / "from-prometheusrule.yml"
    extracted.write_text(yaml.safe_dump({"groups": manifest["spec"]["groups"]}))
    run([tool("promtool"), "check", "rules", extracted])


def test_stale_output_is_detected(tmp_path: Path) -> None:
    stale = tmp_path / "prometheusrule.yaml"
    stale.write_text(GENERATED.read_text().replace("vector(0.7)", "vector(0.5)"))
    check = subprocess.run(
        [sys.executable, GENERATOR, "--check", "--output", stale], capture_output=True, check=False
    )
    assert check.returncode == 1


def _rules_in(node: Any) -> Iterator[str]:
    """Names of the Prometheus rules (mappings with record/alert and expr) anywhere in node."""
    if isinstance(node, dict):
        name = node.get("record", node.get("alert"))
        if isinstance(name, str) and isinstance(node.get("expr"), str | int):
            yield name
        for value in node.values():
            yield from _rules_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from _rules_in(item)


def test_no_other_copy_of_the_rules_in_deploy() -> None:
    """Only deploy/prometheus/rules and the generated manifest hold rules (tests load them)."""
    allowed = {*rule_files(), GENERATED}
    for path in sorted(DEPLOY.rglob("*")):
        if path.suffix not in {".yml", ".yaml", ".json"} or path in allowed:
            continue
        text = path.read_text(encoding="utf-8")
        docs = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
        found = [name for doc in docs for name in _rules_in(doc)]
        assert not found, f"{path} defines rules {found}: edit deploy/prometheus/rules instead"


def test_compose_and_prometheus_read_the_rules_directory_itself() -> None:
    compose = load_yaml(COMPOSE_FILE)
    volumes = compose["services"]["prometheus"]["volumes"]
    mounted = [v.split(":")[0] for v in volumes if v.split(":")[1] == "/etc/prometheus"]
    assert [(COMPOSE_FILE.parent / m).resolve() for m in mounted] == [RULES_DIR.parent]
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    matched = sorted(RULES_DIR.parent.glob(config["rule_files"][0]))
    assert matched == rule_files()


def test_minute_scale_rendering_keeps_every_rule_and_passes_promtool(tmp_path: Path) -> None:
    """The end-to-end alert test runs these: the same rules, windows an hour to the minute."""
    from tracker.testing.alert_render import render_scaled, shrink_offset

    rendered = render_scaled(tmp_path, 60)
    assert [path.name for path in rendered] == [path.name for path in rule_files()]
    run([tool("promtool"), "check", "rules", *rendered])
    for source, scaled in zip(rule_files(), rendered, strict=True):
        original = [r for g in load_yaml(source)["groups"] for r in g["rules"]]
        fast = [r for g in load_yaml(scaled)["groups"] for r in g["rules"]]
        assert [(r.get("record"), r.get("alert"), r.get("labels")) for r in original] == [
            (r.get("record"), r.get("alert"), r.get("labels")) for r in fast
        ]
    alerts = {
        r["alert"]: r for g in load_yaml(rendered[0])["groups"] for r in g["rules"] if "alert" in r
    }
    assert alerts["ConversionRateDrop"]["for"] == "10s"
    assert shrink_offset("165h", 60) == "167h57m", "whole weeks stay, the rest shrinks"
