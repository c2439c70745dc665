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
    undeclared_series,
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


def test_panel_queries_use_recording_rules_that_exist() -> None:
    recorded = _recorded()
    for title, expr in _targets():
        for name in re.findall(r"\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b", expr):
            assert name in recorded, f"{title}: {name} is not a recording rule"


def _queries(node: Any) -> Iterator[str]:
    """Every PromQL text of a dashboard: panel targets and template variable queries."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "query", "definition") and isinstance(value, str):
                yield value
            else:
                yield from _queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from _queries(item)


def test_dashboards_query_only_declared_metrics_or_recording_rules() -> None:
    """Every tracker_* series is in tracker.metrics.catalogue: else its panel stays empty."""
    dashboards = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
    assert DASHBOARD in dashboards
    for path in dashboards:
        queries = list(_queries(json.loads(path.read_text(encoding="utf-8"))))
        assert queries, path.name
        assert undeclared_series(queries) == set(), f"{path.name}: not in the catalogue"


def test_the_series_check_knows_histogram_suffixes_and_catches_strays() -> None:
    quantile = (
        "histogram_quantile(0.95, rate(tracker_collector_request_duration_seconds_bucket[5m]))"
    )
    assert undeclared_series([quantile]) == set()
    assert (
        undeclared_series(["tracker:conversion_rate:rate1h / channel:tracker_bounce_rate:rate1h"])
        == set()
    )
    assert undeclared_series(["sum(tracker_reach_bucket) + rate(tracker_made_up_total[5m])"]) == {
        "tracker_reach_bucket",
        "tracker_made_up_total",
    }


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
        "name_touchpoint:tracker_web_vital:p75_rate1h",
        "name:tracker_web_vital:p75_rate1h",
        "tracker_sessions_converted_by_lcp_window",
        "support_channel:tracker_support_first_response_seconds:p90_rate1h",
        "support_channel:tracker_support_tickets_open:sum",
        "tracker_support_csat_responses_total",
        "tracker_customers_returning",
        "tracker_customers_lapsed",
        "tracker_repurchase_repeat_customers_by_first_channel_window",
        "tracker_experiment_sample_size",
        "tracker_experiment_p_value",
        "tracker_experiment_conversions_total",
        "experiment_variant:tracker_experiment_z_score:ratio",
        "tracker_identity_links_total",
        "tracker_identity_conflicts_total",
        "tracker_sessions_merged_total",
        "tracker_sessions_discarded_total",
        "tracker_events_forwarded_total",
        "tracker_identity_lag",
        "tracker_identity_held_events",
        "tracker_identity_records_unacknowledged",
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


def funnel_panel() -> dict[str, Any]:
    (panel,) = [p for p in _panels(_dashboard()["panels"]) if p["title"].startswith("Funnel:")]
    return panel


def test_the_funnel_panel_keeps_the_configured_order() -> None:
    """The steps are a setting: rows are sorted by the exported position, not count or name."""
    panel = funnel_panel()
    (target,) = panel["targets"]
    expr = " ".join(target["expr"].split())
    assert "tracker_funnel_sessions_total" in expr
    assert (
        "* on (step) group_left (position) max by (step, position) (tracker_funnel_step_info)"
        in (expr)
    )
    assert "sort" not in expr and "topk" not in expr
    assert target["format"] == "table" and target["instant"] is True
    convert, sort = panel["transformations"]
    assert convert["id"] == "convertFieldType"
    assert convert["options"]["conversions"] == [
        {"targetField": "position", "destinationType": "number"}
    ]
    assert sort == {
        "id": "sortBy",
        "options": {"fields": {}, "sort": [{"field": "position", "desc": False}]},
    }
    # One bar per row, named by its step.
    assert panel["options"]["reduceOptions"]["values"] is True
    assert panel["fieldConfig"]["defaults"]["displayName"] == "${__data.fields.step}"
