"""Every alert links its runbook section in docs/runbooks.md, and the section says enough."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.deploy.tools import REPO, rule_files, rules_of
from tests.unit.test_docs import anchors

pytestmark = pytest.mark.deploy

RUNBOOKS = REPO / "docs" / "runbooks.md"
URL = re.compile(r"docs/runbooks\.md#([\w\-]+)")


def _alerts() -> list[dict[str, Any]]:
    return [rule for rule in rules_of(rule_files()) if "alert" in rule]


@pytest.mark.parametrize("rule", _alerts(), ids=lambda rule: rule["alert"])
def test_every_alert_links_an_existing_runbook_section(rule: dict[str, Any]) -> None:
    url = rule["annotations"].get("runbook_url", "")
    match = URL.fullmatch(url)
    assert match is not None, f"{rule['alert']}: runbook_url {url!r}"
    assert match[1] == rule["alert"].lower(), "the section is named after the alert"
    assert match[1] in anchors(RUNBOOKS), f"docs/runbooks.md has no section #{match[1]}"


def test_every_section_says_what_it_means_what_to_look_at_and_the_causes() -> None:
    sections = re.split(r"^## ", RUNBOOKS.read_text(encoding="utf-8"), flags=re.M)[1:]
    names = {rule["alert"] for rule in _alerts()}
    assert {section.split("\n")[0] for section in sections} == names
    for section in sections:
        for part in ("**Means:**", "**Look first:**", "**Common causes:**"):
            assert part in section, f"{section.split(chr(10))[0]}: {part} missing"
