"""A Segment message's live experiment (docs/segment.md#experiments). Pure.

Segment's A/B testing spec sends ``Experiment Viewed`` track calls whose
properties name the experiment and the variation; other calls may carry the
pair in ``context.experiment`` and ``context.variant``. Names become the
contract's slugs (lower case, ``-`` for other characters); one without the
other is passed on alone, for the contract to reject with its reason.
"""

from __future__ import annotations

import re
from typing import Any

_NOT_NAME = re.compile(r"[^a-z0-9_.-]+")
VIEWED = "experiment viewed"


def experiment_fields(item: dict[str, Any], context: dict[str, Any]) -> dict[str, str]:
    """``experiment`` and ``variant`` for the tracker event, as far as the message has them."""
    name = item.get("event")
    if isinstance(name, str) and name.strip().lower() == VIEWED:
        properties = item.get("properties")
        props = properties if isinstance(properties, dict) else {}
        pair = (
            props.get("experiment_name") or props.get("experiment_id"),
            props.get("variation_name") or props.get("variation_id"),
        )
    else:
        pair = (context.get("experiment"), context.get("variant"))
    fields = {}
    for key, value in zip(("experiment", "variant"), pair, strict=True):
        if value is not None and value != "":
            fields[key] = _slug(value)
    return fields


def _slug(value: Any) -> str:
    """``Checkout Button`` -> ``checkout-button``; a number as its digits."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""  # not a name: rejected by the contract's pattern
    return _NOT_NAME.sub("-", str(value).strip().lower()).strip("-_.")[:64]
