"""Health, readiness, metrics, the snippet and the demo shop."""

from __future__ import annotations

import gzip

from tests.unit.collector_support import FakeBroker, collector
from tracker.collector.static import SNIPPET


async def test_health_and_readiness() -> None:
    broker = FakeBroker(ready=False)
    async with collector(broker) as client:
        assert (await client.get("/healthz")).status == 200
        response = await client.get("/readyz")
        assert (response.status, await response.json()) == (503, {"ready": False})
        broker.ready = True
        assert (await client.get("/readyz")).status == 200


async def test_metrics_use_the_collector_names() -> None:
    async with collector() as client:
        await client.options("/v1/events", headers={"Origin": "https://x.example"})
        text = await (await client.get("/metrics")).text()
    for name in (
        'tracker_collector_requests_total{code="403"} 1.0',
        "tracker_collector_request_duration_seconds_bucket",
        'tracker_collector_events_total{outcome="accepted"} 0.0',
        'tracker_collector_events_total{outcome="rejected"} 0.0',
        'tracker_collector_events_total{outcome="bot"} 0.0',
    ):
        assert name in text


async def test_snippet_is_served_compressed_and_cached_briefly() -> None:
    async with collector() as client:
        response = await client.get("/tracker.js", auto_decompress=False)
        raw = await response.read()
        plain = await client.get("/tracker.js", headers={"Accept-Encoding": "identity"})
        plain_body = await plain.read()
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(raw) == SNIPPET.read_bytes() == plain_body
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert "max-age" in response.headers["Cache-Control"]


async def test_demo_shop_only_when_enabled() -> None:
    async with collector() as client:
        assert (await client.get("/demo/")).status == 404
    async with collector(collector_demo=True) as client:
        index = await client.get("/demo/")
        assert index.status == 200 and "tracker.js" in await index.text()
        deep = await client.get("/demo/product/trail-runner")  # a route of the single-page app
        assert await deep.text() == await index.text()
        script = await client.get("/demo/shop.js")
        assert script.headers["Content-Type"].startswith("text/javascript")
        assert (await client.get("/demo", allow_redirects=False)).status == 302
        escape = await client.get("/demo/%2e%2e/collector/app.py")
        assert "import" not in await escape.text(), "only shipped files are served"
