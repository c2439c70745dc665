"""Every range of the wire contract in one place (docs/contract.md#bounds).

The contract models, the JSON Schema in ``schemas/``, the collector and the worker
all take their limits from here, so a value is either inside every one of them or
rejected by each the same way: never rounded, never clamped. ``rule_of`` turns a
validation error into the rule a client is told (``out_of_range:revenue``) and the
dead-letter record carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

# Money: up to a trillion in the order's currency, to the millionth (crypto and
# fuel prices use more than cents). Sums are kept as Python ints of millionths and
# serialized losslessly beyond 64 bits (``aggregates``), so no total can overflow.
REVENUE_MAX = Decimal(10) ** 12
REVENUE_DECIMALS = 6
MICROS = 10**REVENUE_DECIMALS

# Free-form properties: 2 KiB serialized, at most this deep (an object in an object…).
PROPERTIES_MAX_BYTES = 2048
PROPERTIES_MAX_DEPTH = 8

# Event time: from the Unix epoch to the end of year 9999 (RFC 3339's range), and a
# device's send delay (sent_at - occurred_at) within a year either way: an app may send
# a week-old offline queue, never a clock that is decades off.
EARLIEST_MS = 0
LATEST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MAX_SEND_DELAY_MS = 366 * 86_400_000
# The same as datetimes: validation compares them, for a fraction of a conversion to
# milliseconds. LATEST admits what floors to LATEST_MS; within SURE_SEND_DELAY a delay is
# plausible however its milliseconds round.
_EPOCH, _MS = datetime(1970, 1, 1, tzinfo=UTC), timedelta(milliseconds=1)
EARLIEST = _EPOCH + EARLIEST_MS * _MS
LATEST = _EPOCH + (LATEST_MS * _MS + timedelta(microseconds=999))
SURE_SEND_DELAY = (MAX_SEND_DELAY_MS - 1) * _MS

# Text fields: (min, max) characters, as the contract has always said.
ID_CHARS = (1, 128)
EVENT_ID_CHARS = (1, 64)
REFERRER_MAX_CHARS = 2048
CAMPAIGN_MAX_CHARS = 64
COMMENT_MAX_CHARS = 2000
USER_AGENT_MAX_CHARS = 1024  # real agents stay under 500; some apps append a lot

# A web vital: an hour in milliseconds (a page open that long has stopped loading); CLS is
# a sum of layout-shift fractions that stays far below it.
VITAL_MAX_VALUE = 3_600_000

# Live experiments (docs/contract.md#experiments): names are label values, so short slugs;
# TRACKER_EXPERIMENTS allows at most this many experiments of at most this many variants.
EXPERIMENT_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
MAX_EXPERIMENTS = 8
MAX_VARIANTS = 4  # the control included

# Messages and requests (defaults of TRACKER_MAX_MESSAGE_* and TRACKER_COLLECTOR_*).
MESSAGE_MAX_BYTES = 1_048_576
MESSAGE_MAX_EVENTS = 500
REQUEST_MAX_BYTES = 65_536
REQUEST_MAX_EVENTS = 100

# pydantic error types that mean "a value outside its range" rather than "malformed".
_RANGE_ERRORS = frozenset(
    {
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "decimal_max_places",
        "decimal_max_digits",
        "decimal_whole_digits",
        "string_too_short",
        "string_too_long",
        "too_short",
        "too_long",
        "out_of_range",
    }
)


class OutOfRangeError(ValueError):
    """Raised by contract validators for a value outside its documented range."""


def rule_of(error: Mapping[str, Any]) -> str:
    """The rule one pydantic error broke: ``out_of_range:FIELD`` or ``invalid:FIELD``."""
    context = error.get("ctx") or {}
    field = str(context.get("field") or _field_of(error.get("loc", ())))
    kind = error.get("type", "")
    message = str(error.get("msg", ""))
    if kind in _RANGE_ERRORS or "out of range" in message:
        return f"out_of_range:{field}"
    return f"invalid:{field}"


def _field_of(loc: Any) -> str:
    """The contract field an error is about: the first name that is not a model tag."""
    names = [str(part) for part in loc if isinstance(part, str)]
    event_types = {
        "page_view",
        "interaction",
        "page_ping",
        "order",
        "consent",
        "feedback",
        "identify",
        "web_vital",
        "support_contact",
        "support_reply",
        "support_resolved",
    }
    names = [name for name in names if name not in event_types]
    return names[0] if names else "event"


def depth(value: Any, limit: int = PROPERTIES_MAX_DEPTH) -> int:
    """Nesting depth of a decoded JSON value, counting stops at ``limit + 1``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            level += 1
            deepest = max(deepest, level)
            if level > limit:
                return level
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level) for child in children)
    return deepest
