"""The collector's OpenAPI 3.1 document, served at ``/openapi.json``.

Request bodies are the contract's own JSON Schema (``message_json_schema``: one event,
or a non-empty array of events), so the document cannot drift from what the collector
validates; responses are described here, next to the routes in ``app.py``. A unit
test keeps the paths and methods equal to the app's routes, and an integration test
runs schemathesis against a live collector with this document.
"""

from __future__ import annotations

from typing import Any

from tracker.collector.segment_openapi import SECURITY_SCHEMES, segment_paths, segment_schemas
from tracker.core.contract import message_json_schema
from tracker.settings import Settings

OPENAPI_PATH = "/openapi.json"
_DEFS = "#/$defs/"
_SCHEMAS = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _SCHEMAS + name}


def _moved(value: Any) -> Any:
    """``value`` with JSON Schema ``$defs`` references pointing at ``components/schemas``
    (``$ref``s and the discriminator's mapping alike)."""
    if isinstance(value, dict):
        return {key: _moved(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_moved(item) for item in value]
    if isinstance(value, str) and value.startswith(_DEFS):
        return _SCHEMAS + value.removeprefix(_DEFS)
    return value


def _contract_schemas(max_events: int) -> dict[str, Any]:
    message = _moved(message_json_schema())
    schemas: dict[str, Any] = message.pop("$defs")
    one, many = message["oneOf"]
    schemas["Batch"] = {
        "description": "One event, or an array of events of any customers",
        "oneOf": [one, {**many, "maxItems": max_events}],
    }
    return schemas


def _response_schemas() -> dict[str, Any]:
    count = {"type": "integer", "minimum": 0}
    rejected = {"type": "array", "items": _ref("RejectedEvent")}
    return {
        "FieldError": {
            "type": "object",
            "required": ["field", "message", "rule"],
            "properties": {
                "field": {"type": "string", "description": "where: a field, dotted, or event"},
                "message": {"type": "string"},
                "rule": {
                    "type": "string",
                    "description": "out_of_range:FIELD or invalid:FIELD (docs/contract.md#bounds)",
                },
            },
        },
        "RejectedEvent": {
            "type": "object",
            "required": ["index", "event_id", "errors"],
            "properties": {
                "index": count,
                "event_id": {"type": ["string", "null"]},
                "errors": {"type": "array", "items": _ref("FieldError")},
            },
        },
        "Accepted": {
            "type": "object",
            "required": ["accepted", "dropped"],
            "properties": {"accepted": count, "dropped": count, "rejected": rejected},
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {"type": "string"},
                "detail": {"type": "string"},
                "accepted": count,
                "rejected": rejected,
            },
        },
    }


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str, retry: bool = False) -> dict[str, Any]:
    response = _json(description, _ref("Error"))
    if retry:
        response["headers"] = {
            "Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}
        }
    return response


def _post_events(settings: Settings) -> dict[str, Any]:
    body = {"schema": _ref("Batch")}
    limit = f"{settings.collector_max_body_bytes} bytes and {settings.collector_max_events} events"
    return {
        "summary": "Store a batch of events; 202 only once the broker acknowledged them",
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
            "description": f"at most {limit}, on the wire and once decompressed",
            # text/plain is what navigator.sendBeacon can send without a preflight.
            "content": {"application/json": body, "text/plain": body},
        },
        "responses": {
            "202": _json("valid events stored, the others listed", _ref("Accepted")),
            "400": _error("no valid event, not JSON, or not gzip"),
            "403": _error("origin not allowed"),
            "408": _error("the body did not arrive in time; the connection is closed"),
            "413": _error("too many bytes or events"),
            "415": _error("another content type or encoding"),
            "429": _error("rate limited", retry=True),
            "503": _error("the broker did not acknowledge: retry", retry=True),
        },
    }


def _get(description: str, media_type: str, schema: dict[str, Any]) -> dict[str, Any]:
    ok = {"description": description, "content": {media_type: {"schema": schema}}}
    return {"responses": {"200": ok}}


def _paths(settings: Settings) -> dict[str, Any]:
    text = {"type": "string"}
    ready = {"type": "object", "required": ["ready"], "properties": {"ready": {"type": "boolean"}}}
    paths: dict[str, Any] = {
        "/v1/events": {
            "post": _post_events(settings),
            "options": {
                "summary": "CORS preflight",
                "responses": {"204": {"description": "allowed"}, "403": _error("not allowed")},
            },
        },
        "/healthz": {"get": _get("the process is up", "application/json", {"type": "object"})},
        "/readyz": {
            "get": {
                "responses": {
                    "200": _json("the broker is reachable and knows the topic", ready),
                    "503": _json("not ready", ready),
                }
            }
        },
        "/metrics": {"get": _get("Prometheus text exposition", "text/plain", text)},
        "/tracker.js": {"get": _get("the browser snippet", "text/javascript", text)},
        OPENAPI_PATH: {"get": _get("this document", "application/json", {"type": "object"})},
        **segment_paths(),  # docs/segment.md
    }
    if settings.collector_demo:
        moved = {"responses": {"302": {"description": "to /demo/"}}}
        page = _get("a file of the demo shop, else its single page", "*/*", text)
        tail = {"name": "tail", "in": "path", "required": True, "schema": text}
        paths["/"] = {"get": moved}
        paths["/demo"] = {"get": moved}
        paths["/demo/{tail}"] = {"get": {**page, "parameters": [tail]}}
    return paths


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The document for a collector running with ``settings`` (limits, demo routes)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Touchpoint tracker collector",
            "version": "1",  # the API's version, as in /v1/events
            "description": "Browsers and apps post consented touchpoint events here.",
        },
        "paths": _paths(settings),
        "components": {
            "schemas": {
                **_contract_schemas(settings.collector_max_events),
                **_response_schemas(),
                **segment_schemas(),
            },
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
