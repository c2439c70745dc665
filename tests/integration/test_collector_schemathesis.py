"""schemathesis against a live collector on the embedded broker, with a fixed budget.

The document is the one the collector serves at /openapi.json. Cases are generated
from it, valid and invalid, with a fixed seed and a fixed number of examples, and
every answer must be no 5xx and conform to the document (status, media type,
headers, body schema). Schema-valid events the contract still refuses (a send delay
over a year, properties too deep) are a documented 400, so "valid data is accepted"
is not among the checks, and neither is "invalid data is rejected": an event without
analytics consent is dropped with a 202 before it is validated.
"""

from __future__ import annotations

import base64
import gzip
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.collector_process import BROWSER_UA, CollectorProcess, web_event
from tracker.collector.segment import CALLS
from tracker.kafka.broker import BrokerHandle
from tracker.testing.deployment import make_deployment, wait_until

EXAMPLES = 250  # ~30-60 s on a shared two-core machine, broker writes included
SEGMENT_EXAMPLES = 120
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live_collector(
    embedded_broker: BrokerHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CollectorProcess]:
    deployment = make_deployment(embedded_broker, tmp_path_factory.mktemp("schemathesis"))
    collector = CollectorProcess(
        # Every case comes from one address: without a rate limit, every path is reached.
        {**deployment.env, "TRACKER_COLLECTOR_RATE_LIMIT": "0", "TRACKER_WRITE_KEYS": "fuzz-key"},
        deployment.root / "collector.log",
    ).start()
    yield collector
    collector.stop()
    deployment.stop()


def test_no_server_error_and_every_answer_as_documented(live_collector: CollectorProcess) -> None:
    collector = live_collector
    schema = schemathesis.openapi.from_url(collector.url + "/openapi.json")
    operations = {(r.ok().method, r.ok().path) for r in schema.get_all_operations()}
    assert ("post", "/v1/events") in operations
    cases = st.one_of(
        schema.as_strategy(GenerationMode.POSITIVE),
        schema["/v1/events"]["POST"].as_strategy(GenerationMode.NEGATIVE),
    )
    answered: list[int] = []

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,  # the same cases on every run: a failure reproduces
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Case) -> None:
        response = case.call_and_validate(base_url=collector.url, checks=CHECKS, timeout=15)
        answered.append(response.status_code)

    fuzz()
    assert len(answered) >= EXAMPLES // 2
    assert {202, 400} <= set(answered), f"both accepted and refused batches: {set(answered)}"
    assert "Traceback" not in collector.log_path.read_text(errors="replace"), collector.tail()


def test_segment_api_with_a_valid_key(live_collector: CollectorProcess) -> None:
    """The Segment paths past the write key (docs/segment.md): no 5xx, answers as documented."""
    collector = live_collector
    schema = schemathesis.openapi.from_url(collector.url + "/openapi.json")
    paths = ["/v1/batch", *(f"/v1/{call}" for call in CALLS)]
    cases = st.one_of(
        *(schema[path]["POST"].as_strategy(GenerationMode.POSITIVE) for path in paths),
        schema["/v1/batch"]["POST"].as_strategy(GenerationMode.NEGATIVE),
    )
    key = "Basic " + base64.b64encode(b"fuzz-key:").decode()
    answered: list[int] = []

    @given(case=cases)
    @settings(
        max_examples=SEGMENT_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Case) -> None:
        case.headers = {**(case.headers or {}), "Authorization": key}
        response = case.call_and_validate(base_url=collector.url, checks=CHECKS, timeout=15)
        answered.append(response.status_code)

    fuzz()
    assert {200, 400} <= set(answered), f"both stored and refused: {set(answered)}"
    assert "Traceback" not in collector.log_path.read_text(errors="replace"), collector.tail()


def test_hostile_ids_never_forge_a_line_of_the_real_log(live_collector: CollectorProcess) -> None:
    forged = "2026-01-01 00:00:00,000 INFO forged"
    hostile = web_event("page_view", f"ana\r\n{forged}\u202e", channel="fax")
    hostile["event_id"] = f"e\n{forged}\x00"
    hostile[f"\n{forged}"] = 1
    status, body, _ = live_collector.post([hostile])
    assert status == 400 and body["rejected"][0]["event_id"] == hostile["event_id"]
    accepted = web_event("page_view", f"ben\n{forged}\x1b[2J")
    assert live_collector.post([accepted])[0] == 202

    def reported() -> bool:
        # Rejections are reported once per interval, the latest as the example: send
        # the hostile one until it is the example.
        live_collector.post([hostile])
        return forged in live_collector.log_path.read_bytes().decode()

    wait_until(reported, 30, "the collector to report the hostile rejection")
    log = live_collector.log_path.read_bytes().decode()
    assert not any(line.startswith(forged) for line in log.splitlines())
    for raw in ("\r", "\x00", "\x1b", "\u202e"):
        assert raw not in log


def test_gzip_bodies_on_the_real_server(live_collector: CollectorProcess) -> None:
    """``tracker collector`` serves with the same server options as the unit tests."""

    def send(body: bytes) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            live_collector.url + "/v1/events",
            data=body,
            # A browser's agent: Python-urllib's own is on the maintained crawler list.
            headers={
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
                "User-Agent": BROWSER_UA,
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, orjson.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, orjson.loads(exc.read())

    status, body = send(gzip.compress(orjson.dumps([web_event("page_view", "ana")])))
    assert (status, body["accepted"]) == (202, 1)
    status, body = send(gzip.compress(b"[" + b" " * 50_000_000 + b"]"))
    assert (status, body["error"]) == (413, "too_large")
    assert send(b"\x1f\x8b garbage")[1]["error"] == "invalid_gzip"
