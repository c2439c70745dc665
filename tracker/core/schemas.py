"""The JSON Schemas published in ``schemas/``, generated from the contract models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from tracker.core.contract import event_json_schema, message_json_schema


def rendered() -> dict[str, bytes]:
    """File name -> exact bytes of each published schema."""
    schemas: dict[str, dict[str, Any]] = {
        "event.v1.json": event_json_schema(),
        "message.v1.json": message_json_schema(),
    }
    return {
        name: orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        for name, schema in schemas.items()
    }


def write_schemas(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, body in rendered().items():
        path = out / name
        path.write_bytes(body)
        written.append(path)
    return written
