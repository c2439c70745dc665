"""The Segment API's part of /openapi.json: its paths, their bodies and answers.

Segment's messages are open objects (SDKs add fields of their own); the document
names the fields the collector reads (docs/segment.md#mapping), and the answers
it gives: per-message errors in a 200, or a 400 when no message was usable.
"""

from __future__ import annotations

from typing import Any

from tracker.collector.segment import CALLS, MAX_BATCH_BYTES
from tracker.collector.segment_map import KINDS, MAX_MESSAGE_BYTES

_SCHEMAS = "#/components/schemas/"
ID = {"type": ["string", "integer"]}
TEXT = {"type": "string"}
OBJECT = {"type": "object"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _SCHEMAS + name}


def segment_schemas() -> dict[str, Any]:
    count = {"type": "integer", "minimum": 0}
    message = {
        "type": "object",
        "description": f"A Segment message, at most {MAX_MESSAGE_BYTES} bytes; other fields are ignored",
        "properties": {
            "type": {"enum": list(KINDS)},
            "userId": ID,
            "anonymousId": ID,
            "previousId": ID,
            "groupId": ID,
            "messageId": TEXT,
            "timestamp": TEXT,
            "originalTimestamp": TEXT,
            "sentAt": TEXT,
            "event": TEXT,
            "name": TEXT,
            "category": TEXT,
            "channel": TEXT,
            "properties": OBJECT,
            "context": OBJECT,
            "traits": OBJECT,
        },
    }
    rejected = {
        "type": "object",
        "required": ["index", "messageId", "errors"],
        "properties": {
            "index": count,
            "messageId": {"type": ["string", "null"]},
            "errors": {"type": "array", "items": _ref("FieldError")},
        },
    }
    answer = {
        "type": "object",
        "required": ["success"],
        "properties": {
            "success": {"type": "boolean"},
            "accepted": count,
            "rejected": {"type": "array", "items": _ref("SegmentRejected")},
            "error": TEXT,
            "detail": TEXT,
        },
    }
    batch = {
        "type": "object",
        "required": ["batch"],
        "properties": {
            "batch": {"type": "array", "minItems": 1, "items": _ref("SegmentMessage")},
            "context": OBJECT,
            "sentAt": TEXT,
        },
    }
    return {
        "SegmentMessage": message,
        "SegmentBatch": batch,
        "SegmentRejected": rejected,
        "SegmentAnswer": answer,
    }


def _answer(description: str, retry: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref("SegmentAnswer")}},
    }
    if retry:
        response["headers"] = {
            "Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}
        }
    return response


def _post(summary: str, body: str) -> dict[str, Any]:
    schema = {"schema": _ref(body)}
    return {
        "summary": summary,
        "security": [{"writeKey": []}],
        "parameters": [
            {
                "name": "Content-Encoding",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "enum": ["gzip", "x-gzip", "identity"]},
            }
        ],
        "requestBody": {
            "required": True,
            "description": f"at most {MAX_BATCH_BYTES} bytes, on the wire and once decompressed",
            "content": {"application/json": schema, "text/plain": schema},
        },
        "responses": {
            "200": _answer("stored once the broker acknowledged; invalid messages listed"),
            "400": _answer("no usable message, not JSON, or not gzip"),
            "401": _answer("no write key, not HTTP Basic, or an unknown key"),
            "408": _answer("the body did not arrive in time; the connection is closed"),
            "413": _answer("too many bytes"),
            "415": _answer("another content type or encoding"),
            "503": _answer("the broker did not acknowledge: retry", retry=True),
        },
    }


def segment_paths() -> dict[str, Any]:
    paths = {"/v1/batch": {"post": _post("Segment batch: messages of any calls", "SegmentBatch")}}
    for call in CALLS:
        paths[f"/v1/{call}"] = {"post": _post(f"Segment {call} call", "SegmentMessage")}
    return paths


SECURITY_SCHEMES = {
    "writeKey": {
        "type": "http",
        "scheme": "basic",
        "description": "the write key as user name, the password empty (TRACKER_WRITE_KEYS)",
    }
}
