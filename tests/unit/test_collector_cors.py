"""CORS: allow-listed origins, preflights, same-origin pages, and refusals."""

from __future__ import annotations

from tests.unit.collector_support import FakeBroker, collector, post
from tests.unit.helpers import ev

SHOP = "https://shop.example"


async def test_preflight_from_an_allowed_origin() -> None:
    async with collector(collector_allowed_origins=(SHOP,)) as client:
        response = await client.options(
            "/v1/events",
            headers={
                "Origin": SHOP,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Headers"].lower() == "content-type"
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in response.headers["Vary"]


async def test_preflight_and_post_from_other_origins_are_refused() -> None:
    broker = FakeBroker()
    async with collector(broker, collector_allowed_origins=(SHOP,)) as client:
        response = await client.options(
            "/v1/events",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert response.status == 403
        assert "Access-Control-Allow-Origin" not in response.headers
        status, body, headers = await post(
            client, [ev("page_view", "ana", 0)], headers={"Origin": "https://evil.example"}
        )
        assert (status, body["error"]) == (403, "origin_not_allowed")
        assert "Access-Control-Allow-Origin" not in headers
    assert broker.written == [], "a simple (beacon) request is refused server-side too"


async def test_allowed_origin_reads_status_and_retry_after() -> None:
    broker = FakeBroker(error=RuntimeError("down"))
    async with collector(broker, collector_allowed_origins=(SHOP,)) as client:
        status, _, headers = await post(
            client, [ev("page_view", "ana", 0)], headers={"Origin": SHOP}, content_type="text/plain"
        )
    assert status == 503
    assert headers["Access-Control-Allow-Origin"] == SHOP
    assert "Retry-After" in headers["Access-Control-Expose-Headers"]


async def test_same_origin_and_originless_posts_need_no_allow_list() -> None:
    broker = FakeBroker()
    async with collector(broker) as client:
        own = f"http://{client.host}:{client.port}"
        assert (await post(client, [ev("page_view", "a", 0)], headers={"Origin": own}))[0] == 202
        assert (await post(client, [ev("page_view", "a", 1)]))[0] == 202
        refused = await post(client, [ev("page_view", "a", 2)], headers={"Origin": "null"})
        assert refused[0] == 403
    assert len(broker.written) == 2


async def test_wildcard_allows_any_origin() -> None:
    async with collector(collector_allowed_origins=("*",)) as client:
        status, _, headers = await post(
            client, [ev("page_view", "a", 0)], headers={"Origin": "https://anywhere.example"}
        )
    assert status == 202
    assert headers["Access-Control-Allow-Origin"] == "https://anywhere.example"
