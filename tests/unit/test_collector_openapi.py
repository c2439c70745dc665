"""/openapi.json: the same paths and methods as the app's routes, and true to its answers.

The live check with schemathesis is tests/integration/test_collector_schemathesis.py.
"""

from __future__ import annotations

import base64
import gzip
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from tests.unit.collector_support import FakeBroker, collector, collector_settings, post
from tests.unit.helpers import ev
from tracker.collector import build_collector_app
from tracker.collector.openapi import openapi_document
from tracker.core.contract import message_json_schema


def _routes(demo: bool) -> set[tuple[str, str]]:
    broker = FakeBroker()
    app = build_collector_app(collector_settings(collector_demo=demo), broker.produce, broker.ready)
    return {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
    }


def _documented(demo: bool) -> set[tuple[str, str]]:
    paths = openapi_document(collector_settings(collector_demo=demo))["paths"]
    return {(method, path) for path, item in paths.items() for method in item}


@pytest.mark.parametrize("demo", [False, True])
def test_the_document_lists_exactly_the_apps_routes(demo: bool) -> None:
    documented = _documented(demo)
    # aiohttp answers HEAD wherever it answers GET; the document leaves HEAD implied.
    implied = {("head", path) for method, path in documented if method == "get"}
    assert _routes(demo) == documented | implied


def _validator(document: dict[str, Any], name: str) -> Draft202012Validator:
    return Draft202012Validator({**document, "$ref": f"#/components/schemas/{name}"})


def test_the_request_body_is_the_contracts_schema() -> None:
    document = openapi_document(collector_settings(collector_max_events=3))
    body = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]
    assert body["application/json"] == body["text/plain"]
    batch = _validator(document, "Batch")
    assert batch.is_valid([ev("page_view", "ana", 0), ev("order", "ben", 1)])
    assert batch.is_valid(ev("feedback", "ana", 0))
    assert not batch.is_valid([ev("page_view", "ana", 0, channel="fax")])
    assert not batch.is_valid([ev("page_ping", "ana", i) for i in range(4)]), "max events"
    assert not batch.is_valid([])
    contract = message_json_schema()["$defs"]["Order"]["properties"]["revenue"]
    assert document["components"]["schemas"]["Order"]["properties"]["revenue"] == contract


async def test_answers_conform_to_the_document() -> None:
    settings = {"collector_rate_limit": 1, "collector_rate_burst": 1}
    document = openapi_document(collector_settings(**settings))
    answers: dict[int, Any] = {}
    async with collector(**settings) as client:
        served = await client.get("/openapi.json")
        assert orjson.loads(await served.read()) == document
        mixed = [ev("page_view", "ana", 0), ev("order", "ana", 1, revenue="-1")]
        status, answers[202], _ = await post(client, mixed)
        status, answers[429], headers = await post(client, mixed)
        assert status == 429 and headers["Retry-After"]
    async with collector() as client:
        status, answers[400], _ = await post(client, [ev("order", "ana", 1, currency="euro")])
        status, answers[413], _ = await post(client, [ev("page_ping", "a", 0)] * 101)
        status, answers[415], _ = await post(client, gzip.compress(b"[]"), content_type="a/b")
    responses = document["paths"]["/v1/events"]["post"]["responses"]
    for code, body in answers.items():
        schema = responses[str(code)]["content"]["application/json"]["schema"]
        name = schema["$ref"].rsplit("/", 1)[1]
        errors = list(_validator(document, name).iter_errors(body))
        assert not errors, f"{code}: {errors[0].message}"
    assert answers[202]["rejected"][0]["errors"][0]["rule"] == "out_of_range:revenue"


async def test_segment_answers_conform_to_the_document() -> None:
    document = openapi_document(collector_settings(write_keys="wk"))
    auth = {"Authorization": "Basic " + base64.b64encode(b"wk:").decode()}
    json_type = {"Content-Type": "application/json"}
    page = {
        "type": "page",
        "anonymousId": "a",
        "messageId": "m",
        "timestamp": "2026-05-04T09:00:00Z",
    }
    consented = {**page, "context": {"consent": {"categoryPreferences": {"analytics": True}}}}
    answers: dict[int, Any] = {}
    async with collector(write_keys="wk") as client:
        for code, body, headers in (
            (200, {"batch": [consented, {**consented, "type": "x"}]}, {**auth, **json_type}),
            (400, {"batch": [{"type": "x"}]}, {**auth, **json_type}),
            (401, {"batch": [page]}, json_type),
            (415, {"batch": [page]}, {**auth, "Content-Type": "a/b"}),
        ):
            response = await client.post("/v1/batch", data=orjson.dumps(body), headers=headers)
            assert response.status == code
            answers[code] = orjson.loads(await response.read())
    responses = document["paths"]["/v1/batch"]["post"]["responses"]
    for code, body in answers.items():
        schema = responses[str(code)]["content"]["application/json"]["schema"]
        errors = list(_validator(document, schema["$ref"].rsplit("/", 1)[1]).iter_errors(body))
        assert not errors, f"{code}: {errors[0].message}"
    assert answers[200]["rejected"][0]["errors"][0]["rule"] == "invalid:type"
    batch = _validator(document, "SegmentBatch")
    assert batch.is_valid({"batch": [page]}) and not batch.is_valid({"batch": []})
