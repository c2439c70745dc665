"""ConversionRateDrop end to end: events -> worker -> Prometheus -> Alertmanager -> webhook.

Real components throughout: sessions produced to the broker, a worker counting
them, a Prometheus scraping it with the shipped rules rendered an hour to the
minute (``tracker.testing.alert_render``: windows of seconds, the same
thresholds), and Alertmanager with the shipped routes and inhibit rules,
delivering to a webhook in this test. Four past weeks of the baseline are
backfilled as TSDB blocks at the real week offsets. Conversions stop: the page
must reach marketing's pager with its labels, summary and runbook link; they
return: the resolved notice must follow.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer

from tests.support.alertmanager import Alertmanager, WebhookReceiver
from tests.support.prometheus import Prometheus
from tracker.testing.alert_render import render_scaled
from tracker.testing.deployment import Deployment, wait_until

SCALE = 60  # an hour of the rules is a minute here
WEEK = 7 * 86_400
SESSIONS_PER_SECOND = 4
CONVERSION = 0.5


def _event(customer: str, event_type: str, at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "customer_id": customer,
        "occurred_at": at.isoformat(),
        "channel": "web",
        "touchpoint": "checkout" if event_type == "order" else "home",
        "consent": {"analytics": True, "marketing": False},
        **extra,
    }


class Shop(threading.Thread):
    """Sessions of one page view each; half of them also order, while ``converting``."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(name="shop", daemon=True)
        self.producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), linger_ms=20)
        self.topic = topic
        self.converting = True
        self.stopped = threading.Event()
        self.sent = 0

    def run(self) -> None:
        n = 0
        while not self.stopped.is_set():
            now = datetime.now(UTC)
            for _ in range(SESSIONS_PER_SECOND):
                n += 1
                customer = f"c-{n}"
                events = [_event(customer, "page_view", now)]
                if self.converting and n % round(1 / CONVERSION) == 0:
                    events.append(
                        _event(
                            customer,
                            "order",
                            now,
                            order_id=f"o-{n}",
                            revenue="10.00",
                            currency="EUR",
                        )
                    )
                self.producer.send(self.topic, key=customer.encode(), value=orjson.dumps(events))
                self.sent += 1
            self.producer.flush()
            self.stopped.wait(1.0)
        self.producer.close()


def _baseline_history(now: float) -> str:
    """OpenMetrics: four past weeks of 1 session closed per second, half converted,
    around the moments the scaled baseline windows read (now - k weeks, +- 10 minutes)."""
    lines = []
    for name, per_second in (
        ("tracker_sessions_closed", 1.0),
        ("tracker_sessions_converted", CONVERSION),
    ):
        lines.append(f"# TYPE {name} counter")
        for week in (4, 3, 2, 1):
            start = int(now - week * WEEK - 900)
            for t in range(start, start + 2400, 5):
                value = per_second * (t - start)
                lines.append(
                    f'{name}_total{{channel="web",partition="9",week="{week}"}} {value} {t}'
                )
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _notice(hook: WebhookReceiver, status: str) -> tuple[str, dict[str, Any]] | None:
    for path, body in hook.notifications():
        for alert in body.get("alerts", []):
            if (
                alert["labels"].get("alertname") == "ConversionRateDrop"
                and alert["status"] == status
            ):
                return path, alert
    return None


# long: one story from normal sales through the page to the resolved notice; each real
# component takes seconds to start and the alert needs its windows filled.
def test_conversions_stop_page_marketing_and_resolve_when_they_return(
    deployment_factory: Callable[..., Deployment], tmp_path: Path
) -> None:
    deployment = deployment_factory(
        TRACKER_SESSION_GAP="2", TRACKER_IDLE_TIMEOUT="2", TRACKER_MAX_OUT_OF_ORDER="1"
    )
    worker = deployment.worker().start()
    rules = render_scaled(tmp_path / "rules", SCALE)
    with WebhookReceiver() as hook, Alertmanager(tmp_path / "alertmanager", hook.url) as am:
        prometheus = Prometheus(
            tmp_path / "prometheus",
            {
                "tracker-worker": [f"127.0.0.1:{worker.port}"],
                # Stands in for the collector, so TrackerWorkerDown stays quiet (it would
                # inhibit the business alerts, as it should).
                "tracker-collector": [f"127.0.0.1:{hook.port}"],
            },
            rules,
            alertmanagers=[am.address],
            extra_args=["--rules.alert.resend-delay=1s"],
        )
        prometheus.backfill(_baseline_history(time.time()))
        shop = Shop(deployment.broker.bootstrap, deployment.env["TRACKER_TOPIC"])
        with prometheus:
            shop.start()
            try:
                _story(prometheus, hook, shop)
            finally:
                shop.stopped.set()
                shop.join(10)


def _story(prometheus: Prometheus, hook: WebhookReceiver, shop: Shop) -> None:
    def value(expr: str) -> float:
        result = prometheus.query(expr)["data"]["result"]
        return float(result[0]["value"][1]) if result else float("nan")

    wait_until(
        lambda: value("tracker:sessions_converted:increase3h") > 100,
        180,
        "three scaled hours of converting sessions",
    )
    assert 0.4 < value("tracker:conversion_rate:baseline4w") < 0.6
    assert _notice(hook, "firing") is None, "no page while conversions are normal"

    shop.converting = False
    stopped = time.monotonic()
    wait_until(lambda: _notice(hook, "firing") is not None, 180, "the page")
    took = time.monotonic() - stopped
    path, alert = _notice(hook, "firing") or ("", {})
    assert path == "/marketing-pager"
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["team"] == "marketing"
    assert alert["annotations"]["summary"] == "Conversions far below what the traffic predicts"
    assert alert["annotations"]["runbook_url"] == "docs/runbooks.md#conversionratedrop"
    assert "expected" in alert["annotations"]["description"]
    # 45 scaled minutes of silence + 10 s `for` + session gap, scrape and delivery.
    assert took < 120, f"paged {took:.0f} s after the stop"

    shop.converting = True
    wait_until(lambda: _notice(hook, "resolved") is not None, 300, "the resolved notice")
    path, _ = _notice(hook, "resolved") or ("", {})
    assert path == "/marketing-pager"
