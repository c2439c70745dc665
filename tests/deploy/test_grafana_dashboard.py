"""Grafana: the dashboard JSON, its PromQL, and the provisioning files."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.tools import (
    DASHBOARD,
    GRAFANA_DIR,
    load_yaml,
    rule_files,
    rules_of,
    run,
    tool,
    write_rule_file,
)

pytestmark = pytest.mark.deploy

# Grafana variables -> a value promtool can parse.
VARIABLES = {
    "window": "24h",
    "channel": ".*",
    "datasource": "prometheus",
    "__range": "1h",
    "__rate_interval": "1m",
    "__interval": "1m",
}
# Exported series (docs/metrics.md#prometheus-names) a panel may query.
KNOWN_METRICS = {
    *(
        f"tracker_{name}_total"
        for name in (
            "events",
            "events_rejected",
            "events_dropped",
            "events_late",
            "sessions_started",
            "sessions_closed",
            "sessions_bounced",
            "sessions_engaged",
            "sessions_interacted",
            "sessions_converted",
            "orders",
            "revenue",
            "journey_transitions",
            "session_exits",
            "erasures",
            "nps_responses",
            "csat_responses",
            "ces_responses",
            "feedback_sentiment",
            "funnel_sessions",
            "sessions_multichannel",
            "collector_requests",
            "collector_events",
        )
    ),
    *(
        f"tracker_{name}_window"
        for name in (
            "sessions_closed",
            "sessions_bounced",
            "sessions_converted",
            "sessions_interacted",
            "sessions_engaged",
            "nps_promoters",
            "nps_detractors",
            "nps_responses",
            "csat_satisfied",
            "csat_responses",
            "ces_score_sum",
            "ces_responses",
            "repurchase_customers",
            "repurchase_repeat_customers",
        )
    ),
    "tracker_sessions_active",
    "tracker_reach",
    "tracker_bounce_rate",
    "tracker_conversion_rate",
    "tracker_interaction_rate",
    "tracker_nps",
    "tracker_csat",
    "tracker_ces",
    "tracker_repurchase_rate",
    "tracker_watermark_lag_seconds",
    "tracker_consumer_lag",
    "tracker_collector_request_duration_seconds_bucket",
    "tracker_revenue_window",
    "tracker_revenue_per_session",
    "tracker_account_reach",
    "tracker_account_converted_window",
    "tracker_account_conversion_rate",
    "tracker_accounts_by_people",
    "tracker_account_first_order_channels_total",
}


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _targets() -> list[tuple[str, str]]:
    """(panel title, expr) of every query of every panel."""
    return [
        (panel["title"], target["expr"])
        for panel in _panels(_dashboard()["panels"])
        for target in panel.get("targets", [])
    ]


def substitute(expr: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in VARIABLES:
            raise AssertionError(f"unknown dashboard variable ${name} in {expr!r}")
        return VARIABLES[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", value, expr)


def _recorded() -> dict[str, str]:
    return {
        r["record"]: " ".join(r["expr"].split()) for r in rules_of(rule_files()) if "record" in r
    }


def test_dashboard_parses_and_is_titled() -> None:
    dashboard = _dashboard()
    assert dashboard["title"] == "Touchpoints overview"
    assert dashboard["uid"] == "touchpoints-overview"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["window"]["query"] == "1h,24h,7d,28d"


def test_every_panel_queries_prometheus() -> None:
    for panel in _panels(_dashboard()["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]


def test_every_panel_expression_parses(tmp_path: Path) -> None:
    """promtool parses every query (variables substituted) as a rule expression."""
    targets = _targets()
    exprs = [substitute(expr) for _, expr in targets]
    promtool = tool("promtool")
    rules = write_rule_file(tmp_path / "dashboard.yml", exprs, prefix="dashboard")
    completed = run_or_none(promtool, rules)
    if completed is None:
        return
    bad = []
    for i, (title, expr) in enumerate(targets):
        single = write_rule_file(tmp_path / f"expr_{i}.yml", [exprs[i]], prefix="dashboard")
        error = run_or_none(promtool, single)
        if error is not None:
            bad.append(f"{title}: {expr}\n  {error.strip()}")
    pytest.fail("panel queries promtool cannot parse:\n" + "\n".join(bad), pytrace=False)


def run_or_none(promtool: str, rules: Path) -> str | None:
    """None when `promtool check rules` accepts the file, else its output."""
    try:
        run([promtool, "check", "rules", rules])
    except pytest.fail.Exception as exc:
        return str(exc)
    return None


def test_panel_queries_use_known_metrics_and_recording_rules() -> None:
    recorded = _recorded()
    for title, expr in _targets():
        for name in re.findall(r"\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b", expr):
            assert name in recorded, f"{title}: {name} is not a recording rule"
        for name in re.findall(r"(?<![:\w])tracker_[a-z_]+(?![:\w])", expr):
            assert name in KNOWN_METRICS, f"{title}: unknown metric {name}"


def test_panels_do_not_recompute_recorded_rates() -> None:
    recorded = _recorded()
    for title, expr in _targets():
        flat = " ".join(expr.split())
        # Every session rate is recorded: panels must read the recording rules.
        assert not re.search(r"rate\(tracker_sessions_\w+_total\[", flat), title
        for name, rule_expr in recorded.items():
            if "(" in rule_expr and not rule_expr.startswith("vector("):
                assert rule_expr not in flat, f"{title}: use the recording rule {name}"


def test_dashboard_covers_the_kpis() -> None:
    text = " ".join(expr for _, expr in _targets())
    for needle in (
        "tracker_reach",
        "channel:tracker_conversion_rate:rate1h",
        "channel:tracker_bounce_rate:rate1h",
        "channel:tracker_interaction_rate:rate1h",
        "offset 1w",
        "tracker_revenue_total",
        "tracker_funnel_sessions_total",
        "tracker_journey_transitions_total",
        "tracker_session_exits_total",
        "tracker_nps_promoters_window",
        "tracker_csat_satisfied_window",
        "tracker_ces_score_sum_window",
        "tracker_feedback_sentiment_total",
        "event_type:tracker_events:rate5m",
        "reason:tracker_events_rejected:rate5m",
        "tracker:events_late:rate5m",
        "tracker_watermark_lag_seconds",
        "tracker_consumer_lag",
    ):
        assert needle in text, needle


def test_panels_do_not_overlap() -> None:
    taken: dict[tuple[int, int], str] = {}
    for panel in _dashboard()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for y in range(grid["y"], grid["y"] + grid["h"]):
            for x in range(grid["x"], grid["x"] + grid["w"]):
                assert (x, y) not in taken, f"{panel['title']} overlaps {taken[(x, y)]}"
                taken[(x, y)] = panel["title"]


def test_panel_ids_are_unique() -> None:
    ids = [panel["id"] for panel in _panels(_dashboard()["panels"])]
    assert len(ids) == len(set(ids))


def test_provisioning_points_at_prometheus_and_the_dashboards() -> None:
    sources = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert source["uid"] == "prometheus"
    providers = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "tracker.yml")
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
