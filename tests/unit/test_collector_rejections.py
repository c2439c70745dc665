"""What a client is told about rejected events, and what the collector's log says.

Rejections name the field and the rule (docs/contract.md#bounds). Ids are any Unicode:
control characters are accepted and counted, and never forge a line of the log.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.collector_support import FakeBroker, collector, metric, post
from tests.unit.helpers import ev
from tracker.collector.intake import validate
from tracker.collector.logs import OneLineFormatter, RejectionLog, printable

HOSTILE = "ana\x00\r\n2026-01-01 00:00:00,000 INFO forged\u202e\x1b[2J\u2028"


async def test_each_error_names_its_field_and_rule() -> None:
    broker = FakeBroker()
    order = ev("order", "ana", 0, revenue="1000000000000.5", channel="fax")
    late = ev("page_view", "ana", 0, sent_at="2030-01-01T00:00:00Z")
    long_id = ev("page_view", "x" * 129, 0)
    async with collector(broker) as client:
        status, body, _ = await post(client, [order, late, long_id])
    assert status == 400, "every event invalid: the request is refused"
    assert body["error"] == "invalid_events" and body["accepted"] == 0
    errors = [{(e["field"], e["rule"]) for e in r["errors"]} for r in body["rejected"]]
    assert errors == [
        {("revenue", "out_of_range:revenue"), ("channel", "invalid:channel")},
        {("event", "out_of_range:sent_at")},
        {("customer_id", "out_of_range:customer_id")},
    ]
    assert all(e["message"] for r in body["rejected"] for e in r["errors"]), "messages kept"
    assert broker.written == []


async def test_rules_come_with_a_partly_accepted_batch_too() -> None:
    async with collector() as client:
        bad = ev("feedback", "ana", 1, nps=11)
        status, body, _ = await post(client, [ev("page_view", "ana", 0), bad])
    assert (status, body["accepted"]) == (202, 1)
    assert body["rejected"][0]["errors"][0]["rule"] == "out_of_range:nps"


@pytest.mark.parametrize(
    "customer",
    ["a\x00b", "line\nbreak", "cr\rlf", "bidi\u202eevil", "\x1b[31mred", "\u2028", "x" * 128],
)
async def test_ids_of_any_unicode_are_accepted_and_counted(customer: str) -> None:
    broker = FakeBroker()
    async with collector(broker) as client:
        status, body, _ = await post(client, [ev("page_view", customer, 0)])
        assert (status, body["accepted"]) == (202, 1)
        assert await metric(client, "tracker_collector_events_total", outcome="accepted") == 1
    assert [m.key for m in broker.messages] == [customer.encode()]


async def test_a_lone_surrogate_is_not_json() -> None:
    async with collector() as client:
        body = b'[{"customer_id": "\\ud800"}]'
        status, reply, _ = await post(client, body)
    assert (status, reply["error"]) == (400, "invalid_json")


def test_printable_escapes_what_could_break_or_hide_a_line() -> None:
    assert printable("plain text, ünïcödé 顧客") == "plain text, ünïcödé 顧客"
    escaped = printable(HOSTILE)
    assert escaped.isprintable()
    assert escaped == ("ana\\x00\\r\\n2026-01-01 00:00:00,000 INFO forged\\u202e\\x1b[2J\\u2028")
    assert printable("x" * 500, limit=10) == "x" * 10 + "…"


@pytest.fixture
def collector_log() -> Iterator[io.StringIO]:
    """The collector's log as ``tracker collector`` writes it: its formatter, INFO."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter())
    logger = logging.getLogger("tracker.collector")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _records(text: str) -> list[str]:
    """Lines that start a record: everything at column 0 (continuations are indented)."""
    return [line for line in text.splitlines() if line and not line[0].isspace()]


async def test_hostile_ids_never_forge_a_log_line(
    collector_log: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    hostile: dict[str, Any] = ev("page_view", HOSTILE, 0, channel="fax", event_id=HOSTILE[:64])
    hostile[HOSTILE] = 1  # an unknown field: its name is echoed in the rule
    async with collector() as client:
        status, body, _ = await post(client, [hostile])
    assert status == 400
    assert body["rejected"][0]["event_id"] == HOSTILE[:64], "the client gets its id back"
    text = collector_log.getvalue()
    [line] = _records(text)
    assert "events rejected since the last report: 1;" in line and "invalid:channel" in line
    assert "\\n2026-01-01 00:00:00,000 INFO forged" in line, "escaped, so visible"
    for raw in ("\x00", "\r", "\u202e", "\x1b", "\u2028"):
        assert raw not in text
    # Escaped at the call site too: any other handler of the log gets the same text.
    assert caplog.records
    assert all(record.getMessage().isprintable() for record in caplog.records)


def test_any_message_or_traceback_stays_within_its_record() -> None:
    try:
        raise ValueError(f"customer {HOSTILE}")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "tracker.collector", logging.ERROR, __file__, 1, "failed for %s", (HOSTILE,), exc_info
    )
    text = OneLineFormatter().format(record)
    [line] = _records(text)
    assert line.endswith("failed for " + printable(HOSTILE, limit=10_000))
    assert len(text.splitlines()) > 1, "the traceback is there, indented"
    assert all(line.isprintable() for line in text.splitlines())


def test_rejections_are_logged_at_most_once_per_interval(collector_log: io.StringIO) -> None:
    rejections = RejectionLog(logging.getLogger("tracker.collector"), interval=10)
    bad = validate([ev("page_view", "ana", 0, channel="fax")]).rejected
    for second in range(30):
        rejections.note(bad, float(second))
    lines = _records(collector_log.getvalue())
    assert len(lines) == 3, "at 0, 10 and 20 s"
    assert "report: 1;" in lines[0] and "report: 10;" in lines[1]
