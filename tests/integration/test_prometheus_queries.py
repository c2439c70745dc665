"""Every dashboard panel and every rule, evaluated by a real Prometheus scraping a live worker.

A week of history cannot be waited for, so the series that week-over-week
queries read a week back are backfilled as TSDB blocks with promtool first;
everything else comes from a worker fed by the traffic generator and a
collector that received requests.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.integration.collector_process import CollectorProcess, web_event
from tests.support.prometheus import Prometheus
from tracker.metrics.samples import total
from tracker.testing.deployment import Deployment, wait_until

ROOT = Path(__file__).resolve().parents[2]
RULES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "touchpoints-overview.json"
VARIABLES = {
    "window": "24h",
    "channel": ".*",
    "__range": "5m",
    "__rate_interval": "1m",
    "__interval": "15s",
    "datasource": "prometheus",
}
# Series that only exist while an alert fires (the promtool tests show each one firing),
# and ConversionRateDrop's evidence, recorded only while conversions fall short.
ONLY_WHILE_FIRING = re.compile(r"\bALERTS\b|^tracker:conversion_deficit:zscore")
WEEK = 7 * 86_400
# What the week-ago queries read: raw counters for the recording rules' `offset 1w`, and the
# recorded rates themselves for panels that shift a recorded series by a week.
BACKFILL_COUNTERS = {
    "tracker_sessions_closed_total": 40.0,
    "tracker_sessions_bounced_total": 14.0,
    "tracker_sessions_converted_total": 5.0,
    "tracker_sessions_interacted_total": 18.0,
    "tracker_events_total": 30.0,
}
BACKFILL_GAUGES = {
    'channel:tracker_conversion_rate:rate1h{channel="web"}': 0.12,
    'channel:tracker_bounce_rate:rate1h{channel="web"}': 0.35,
    'channel:tracker_interaction_rate:rate1h{channel="web"}': 0.45,
    'currency:tracker_revenue:rate1h{currency="EUR"}': 0.16,
    "tracker:events_no_consent:increase1h": 3.0,
    "tracker:events_consent_checked:increase1h": 100.0,
}


def _panel_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in sorted(VARIABLES.items(), key=lambda kv: -len(kv[0])):
                expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
            queries.append((panel["title"], expr))
    return queries


def _week_ago_history(now: float) -> str:
    """OpenMetrics text: per-minute samples around the same hour a week ago."""
    lines = []
    start, end = int(now - WEEK - 2 * 3600), int(now - WEEK + 1800)
    for name, per_minute in BACKFILL_COUNTERS.items():
        family = name.removesuffix("_total")
        lines.append(f"# TYPE {family} counter")
        for t in range(start, end, 60):
            value = per_minute * (t - start) / 60
            lines.append(f'{name}{{channel="web",partition="0"}} {value} {t}')
    for series, value in BACKFILL_GAUGES.items():
        lines.append(f"# TYPE {series.split('{')[0]} gauge")
        for t in range(start, end, 60):
            lines.append(f"{series} {value} {t}")
    lines.append("# TYPE tracker_revenue counter")
    for t in range(start, end, 60):
        lines.append(
            f'tracker_revenue_total{{currency="EUR",partition="0"}} {9.5 * (t - start)} {t}'
        )
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _missing_data(prometheus: Prometheus) -> list[str]:
    """What a live Prometheus cannot answer yet: panels without data, unhealthy rules."""
    failures = []
    for title, expr in _panel_queries():
        result = prometheus.query(expr)["data"]["result"]
        if not result and not ONLY_WHILE_FIRING.search(expr):
            failures.append(f"panel {title!r}: no data for {expr}")
    rules = prometheus.rules()
    assert len(rules) >= 50
    for rule in rules:
        if rule.get("health") != "ok":
            failures.append(f"rule {rule['name']}: {rule.get('health')} {rule.get('lastError')}")
            continue
        if rule["type"] == "recording" and not ONLY_WHILE_FIRING.search(rule["name"]):
            if not prometheus.query(rule["name"])["data"]["result"]:
                failures.append(f"recording rule {rule['name']}: no data")
        else:
            prometheus.query(rule["query"])  # parses and evaluates; data only when firing
    return failures


def test_every_panel_and_rule_evaluates_with_data(
    deployment_factory: Callable[..., Deployment], tmp_path: Path
) -> None:
    deployment = deployment_factory(TRACKER_SESSION_GAP="4", TRACKER_IDLE_TIMEOUT="3")
    worker = deployment.worker().start()
    collector = CollectorProcess(dict(deployment.env), tmp_path / "collector.log").start()
    traffic = subprocess.Popen(
        [sys.executable, "-m", "tracker", "loadgen", "--rate", "80", "--seed", "8"],
        env=deployment.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    prometheus = Prometheus(
        tmp_path / "prometheus",
        {
            "tracker-worker": [f"127.0.0.1:{worker.port}"],
            "tracker-collector": [f"127.0.0.1:{collector.port}"],
        },
        RULES,
    )
    prometheus.backfill(_week_ago_history(time.time()))
    try:
        with prometheus:
            for n in range(20):
                status, _, _ = collector.post([web_event("page_view", f"visitor-{n}")])
                assert status == 202
            wait_until(
                lambda: (
                    total(worker.samples(), "tracker_sessions_closed_total") > 30
                    and total(worker.samples(), "tracker_feedback_sentiment_total") > 0
                    and total(worker.samples(), "tracker_account_first_order_channels_total") > 0
                ),
                180,
                "sessions, feedback and account orders from the generator",
            )
            # Rates need two scrapes and rules an evaluation, and the generator's first
            # CSAT answer or experiment conversion can come late: ask again until all
            # have data, and report what still has none when the time is up.
            deadline = time.monotonic() + 120
            failures = _missing_data(prometheus)
            while failures and time.monotonic() < deadline:
                time.sleep(5)
                failures = _missing_data(prometheus)
            assert failures == [], "\n".join(failures)
    finally:
        traffic.kill()
        collector.stop()
