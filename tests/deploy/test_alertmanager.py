"""deploy/alertmanager: a valid config whose routes send every alert where its labels say."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.deploy.tools import DEPLOY, load_yaml, rule_files, rules_of, run, tool

pytestmark = pytest.mark.deploy

CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
# (severity, team) -> the receiver that must get the alert. Pages before teams.
RECEIVER = {
    ("critical", "marketing"): "marketing-pager",
    ("critical", "sre"): "sre-pager",
    ("warning", "marketing"): "marketing",
    ("warning", "sre"): "sre-tickets",
}


def _alerts() -> list[dict[str, Any]]:
    return [rule for rule in rules_of(rule_files()) if "alert" in rule]


def _routes(labels: dict[str, str]) -> str:
    pairs = [f"{key}={value}" for key, value in sorted(labels.items())]
    out = run([tool("amtool"), "config", "routes", "test", f"--config.file={CONFIG}", *pairs])
    return out.strip().splitlines()[0].strip()  # stderr (a warning) follows stdout


def test_amtool_check_config() -> None:
    output = run([tool("amtool"), "check-config", CONFIG])
    assert "SUCCESS" in output


@pytest.mark.parametrize("rule", _alerts(), ids=lambda rule: rule["alert"])
def test_every_alert_routes_to_the_receiver_of_its_labels(rule: dict[str, Any]) -> None:
    labels = {"alertname": rule["alert"], **rule["labels"]}
    expected = RECEIVER[(labels["severity"], labels["team"])]
    assert _routes(labels) == expected
    # amtool's own check agrees (it exits non-zero on a mismatch).
    pairs = [f"{key}={value}" for key, value in sorted(labels.items())]
    run(
        [
            tool("amtool"),
            "config",
            "routes",
            "test",
            f"--config.file={CONFIG}",
            f"--verify.receivers={expected}",
            *pairs,
        ]
    )


def test_a_critical_marketing_alert_pages_and_does_not_stop_at_the_team_route() -> None:
    """The old tree matched team=marketing first, so marketing's critical alerts never paged."""
    assert _routes({"alertname": "X", "severity": "critical", "team": "marketing"}) == (
        "marketing-pager"
    )
    assert _routes({"alertname": "X", "severity": "warning", "team": "marketing"}) == "marketing"
    assert _routes({"alertname": "X"}) == "tickets"


def test_every_receiver_delivers_and_the_examples_cover_webhook_email_and_slack() -> None:
    config = load_yaml(CONFIG)
    kinds = set()
    for receiver in config["receivers"]:
        configs = [key for key in receiver if key.endswith("_configs") and receiver[key]]
        assert configs, f"receiver {receiver['name']} delivers nowhere"
        kinds.update(configs)
        for key in configs:
            assert all(item.get("send_resolved") for item in receiver[key]), receiver["name"]
    assert {"webhook_configs", "email_configs", "slack_configs"} <= kinds
    header = CONFIG.read_text(encoding="utf-8").split("\nglobal:")[0]
    for receiver in config["receivers"]:
        assert receiver["name"] in header, f"{receiver['name']} is not documented in the header"


def test_inhibit_rules_name_alerts_that_exist() -> None:
    names = {rule["alert"] for rule in _alerts()}
    for inhibit in load_yaml(CONFIG)["inhibit_rules"]:
        for matcher in inhibit["source_matchers"] + inhibit["target_matchers"]:
            pattern = re.fullmatch(r'alertname=~"(.+)"', matcher)
            assert pattern is not None, matcher
            for name in pattern[1].split("|"):
                assert name in names, f"inhibit rule names {name}, which no rule defines"
