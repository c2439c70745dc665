"""The published JSON Schemas and examples stay in sync with the models."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tracker.core.contract import parse_event
from tracker.core.schemas import rendered

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
EXAMPLES = sorted((SCHEMAS / "examples").glob("*.json"))


def test_published_schemas_match_the_models() -> None:
    for name, body in rendered().items():
        published = (SCHEMAS / name).read_bytes()
        assert published == body, f"schemas/{name} is stale: run `tracker schema export`"


def test_there_are_examples_for_every_event_type() -> None:
    types = set()
    for path in EXAMPLES:
        data = json.loads(path.read_text())
        types.update(item["event_type"] for item in (data if isinstance(data, list) else [data]))
    assert {"page_view", "interaction", "page_ping", "order", "consent", "feedback"} <= types
    assert {"web_vital", "support_contact", "support_reply", "support_resolved"} <= types


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_validate_against_models_and_schema(path: Path) -> None:
    data = json.loads(path.read_text())
    message_schema = json.loads((SCHEMAS / "message.v1.json").read_text())
    jsonschema.validate(data, message_schema)
    for item in data if isinstance(data, list) else [data]:
        parse_event(item)


def test_schema_rejects_unknown_fields_like_the_models() -> None:
    event_schema = json.loads((SCHEMAS / "event.v1.json").read_text())
    example = json.loads((SCHEMAS / "examples" / "page_view.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**example, "surprise": 1}, event_schema)
