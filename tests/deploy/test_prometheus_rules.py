"""Prometheus rules and config: promtool checks, unit tests, conventions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.tools import (
    DEPLOY,
    PROMETHEUS_DIR,
    load_yaml,
    rule_files,
    rule_test_files,
    rules_of,
    run,
    tool,
    undeclared_series,
)

pytestmark = pytest.mark.deploy

ALERTS = {
    "ConversionRateDrop",
    "TrafficStopped",
    "ConsentRateDrop",
    "BounceRateSpike",
    "TrackerIngestionStalled",
    "TrackerDeadLetterRate",
    "TrackerWorkerDown",
    "TrackerConsumerLag",
    "LcpPoor",
    "SupportFirstResponseSlow",
    "TrackerPartitionFailed",
    "TrackerPartitionsNotRestored",
    "TrackerScrapeErrors",
}
# level:metric:operations, e.g. tracker:conversion_rate:rate5m, channel:tracker_bounce_rate:rate1h
RECORD_NAME = re.compile(r"^(tracker|[a-z_]+):[a-z0-9_]+:[a-z0-9_]+$")


def _alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in rules_of(rule_files()) if "alert" in rule}


def _records() -> list[dict[str, Any]]:
    return [rule for rule in rules_of(rule_files()) if "record" in rule]


def test_rule_files_exist() -> None:
    names = {path.name for path in rule_files()}
    assert names == {"tracker-recording.yml", "tracker-alerts.yml"}


def test_promtool_check_rules() -> None:
    output = run([tool("promtool"), "check", "rules", *rule_files()])
    assert output.count("SUCCESS") == len(rule_files())


def test_every_rule_file_has_rule_tests() -> None:
    assert len(rule_test_files()) >= 4


# One promtool run per file: each has its own time limit and its own failure to read
# (all in one run took over 300 s on a loaded CI machine).
@pytest.mark.parametrize("test_file", rule_test_files(), ids=lambda path: path.stem)
def test_promtool_test_rules(test_file: Path) -> None:
    output = run([tool("promtool"), "test", "rules", test_file], cwd=PROMETHEUS_DIR / "tests")
    assert "FAILED" not in output
    assert output.count("SUCCESS") == 1


def test_promtool_check_config_loads_the_rules() -> None:
    output = run([tool("promtool"), "check", "config", PROMETHEUS_DIR / "prometheus.yml"])
    assert f"SUCCESS: {len(rule_files())} rule files found" in output


def test_alertmanager_config_is_valid() -> None:
    run([tool("amtool"), "check-config", DEPLOY / "alertmanager" / "alertmanager.yml"])


def test_prometheus_scrapes_workers_and_collector_with_fixed_job_names() -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    workers = [t for c in jobs["tracker-worker"]["static_configs"] for t in c["targets"]]
    collectors = [t for c in jobs["tracker-collector"]["static_configs"] for t in c["targets"]]
    assert len(workers) == 2
    assert all(target.endswith(":6066") for target in workers)
    assert collectors and all(target.endswith(":8088") for target in collectors)
    assert config["rule_files"] == ["rules/*.yml"]


def test_the_required_alerts_exist_with_annotations_and_severity() -> None:
    alerts = _alerts()
    assert set(alerts) == ALERTS
    for name, rule in alerts.items():
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), name
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert "for" in rule, name


def test_conversion_rate_drop_tests_observed_against_expected_conversions() -> None:
    """The statistical rule: a Poisson tail per window against a pooled 4-week baseline."""
    rule = _alerts()["ConversionRateDrop"]
    expr = rule["expr"]
    assert rule["for"] == "10m"
    assert "tracker:conversion_deficit_zscore:threshold" in expr
    assert "tracker:conversion_baseline_min_conversions:threshold" in expr
    windows = re.findall(r"tracker:conversion_deficit:zscore(\w+)", expr)
    assert windows == ["30m", "45m", "90m", "3h"]
    records = {r["record"]: " ".join(r["expr"].split()) for r in _records()}
    for window in windows:
        z = records[f"tracker:conversion_deficit:zscore{window}"]
        assert "^ (1 / 3)" in z, "Wilson-Hilferty cube root"
        assert "tracker:conversion_drop_fraction:threshold" in z
        assert records[f"tracker:sessions_closed:increase{window}"] == (
            f"sum(increase(tracker_sessions_closed_total[{window}]))"
        )
    baseline = records["tracker:sessions_converted:increase6h_4w"]
    assert re.findall(r"\[6h\] offset (\w+)", baseline) == ["165h", "333h", "501h", "669h"]
    assert baseline.count("or on() vector(0)") == 4, "a missing week adds nothing"


def test_traffic_stopped_compares_each_channel_with_last_week() -> None:
    rule = _alerts()["TrafficStopped"]
    assert rule["for"] == "2m", "15 minutes of silence + 2m + evaluation stays under 20 minutes"
    assert "unless on(channel)" in rule["expr"]
    records = {r["record"]: r["expr"] for r in _records()}
    assert "[15m] offset 1w" in records["channel:tracker_events:rate15m_offset1w"]
    assert "[15m] offset 167h45m" in records["channel:tracker_events:rate15m_offset1w_next15m"]
    assert "tracker:traffic_min_events_per_hour:threshold" in rule["expr"]


def test_every_alert_has_a_firing_and_a_silent_unit_test() -> None:
    fired: set[str] = set()
    silent: set[str] = set()
    for path in rule_test_files():
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else silent).add(check["alertname"])
    assert fired == ALERTS
    assert silent == ALERTS


def test_quiet_night_guard_is_tested() -> None:
    cases = load_yaml(PROMETHEUS_DIR / "tests" / "conversion-rate-drop.test.yml")["tests"]
    guard_cases = [case for case in cases if "guard" in case.get("name", "")]
    assert guard_cases
    for case in guard_cases:
        checks = case["alert_rule_test"]
        assert all(check["alertname"] == "ConversionRateDrop" for check in checks)
        assert not any(check.get("exp_alerts") for check in checks)


def test_rule_tests_load_the_real_rule_files() -> None:
    for path in rule_test_files():
        for name in load_yaml(path)["rule_files"]:
            assert (path.parent / name).resolve().parent == (PROMETHEUS_DIR / "rules").resolve()


def test_recording_rule_names_follow_the_convention_and_are_unique() -> None:
    names = [rule["record"] for rule in _records()]
    assert len(names) == len(set(names))
    for name in names:
        assert RECORD_NAME.match(name), name


@pytest.mark.parametrize("rate", ["bounce", "conversion", "interaction"])
@pytest.mark.parametrize("window", ["5m", "1h"])
def test_rate_recording_rules_divide_counter_rates(rate: str, window: str) -> None:
    records = {r["record"]: " ".join(r["expr"].split()) for r in _records()}
    numerator = {"bounce": "bounced", "conversion": "converted", "interaction": "interacted"}[rate]
    overall = records[f"tracker:{rate}_rate:rate{window}"]
    assert overall == (
        f"sum(rate(tracker_sessions_{numerator}_total[{window}]))"
        f" / sum(rate(tracker_sessions_closed_total[{window}]))"
    )
    by_channel = records[f"channel:tracker_{rate}_rate:rate{window}"]
    assert by_channel == (
        f"sum by (channel) (rate(tracker_sessions_{numerator}_total[{window}]))"
        f" / sum by (channel) (rate(tracker_sessions_closed_total[{window}]))"
    )


def test_every_threshold_is_used_by_an_alert() -> None:
    """By an alert's expression, or by the evidence rules an alert reads."""
    thresholds = [r["record"] for r in _records() if r["record"].endswith(":threshold")]
    assert thresholds
    exprs = " ".join(rule["expr"] for rule in rules_of(rule_files()))
    for name in thresholds:
        assert name in exprs, name


def test_recorded_series_used_by_alerts_exist() -> None:
    records = {r["record"] for r in _records()}
    for name, rule in _alerts().items():
        for used in re.findall(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", rule["expr"]):
            assert used in records, f"{name} uses {used}, which no rule records"


def test_rules_query_only_declared_metrics_or_recording_rules() -> None:
    """Every tracker_* series is in tracker.metrics.catalogue: else the rule never fires."""
    for path in rule_files():
        exprs = [rule["expr"] for rule in rules_of([path])]
        assert undeclared_series(exprs) == set(), f"{path.name}: not in the catalogue"


def test_rule_tests_feed_only_declared_metrics() -> None:
    """A rule test fed a series nothing exports proves nothing about production."""
    for path in rule_test_files():
        series = [
            feed["series"]
            for case in load_yaml(path)["tests"]
            for feed in case.get("input_series", [])
        ]
        assert series, path.name
        assert undeclared_series(series) == set(), f"{path.name}: not in the catalogue"


def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    """The checks above are only as good as promtool's exit code."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "groups:\n  - name: x\n    rules:\n      - record: a:b:c\n        expr: sum(\n"
    )
    promtool = tool("promtool")
    with pytest.raises(pytest.fail.Exception):
        run([promtool, "check", "rules", broken])
