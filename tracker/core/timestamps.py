"""The wire contract's timestamps: RFC 3339 with an offset, between 1970 and 9999 UTC.

RFC 3339 demands a date, a time and an offset; pydantic alone would also take unix
numbers and offset-less strings, which devices then get silently wrong.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from pydantic import AwareDatetime, BeforeValidator, TypeAdapter, ValidationError

from tracker.core.bounds import EARLIEST, LATEST

# [0-9], not \d: Python's \d takes any Unicode digit, JSON Schema's only ASCII ones.
RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
NOT_RFC3339 = "must be an RFC 3339 timestamp with offset, e.g. 2026-05-04T09:00:00Z"
OUT_OF_RANGE = "out of range: must lie between 1970-01-01 and 9999-12-31 UTC"
# Local years 1971-9998 lie within EARLIEST..LATEST whatever their offset (at most 99:59):
# for them the format check is all, and pydantic parses the string in Rust. Each Python
# validator costs a call out of pydantic-core per timestamp; one instead of two (the
# format before the parse, the range after it), and no aware comparison, took 2.2 of
# 7.1 µs per event off `parse_event` (measured 2026-12-06).
SURE_YEARS = ("1971", "9998")
_AWARE: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)
# The epoch as pydantic parses it: pydantic-core gives every UTC timestamp (``Z``,
# ``+00:00``) one shared tzinfo object, and this one has it too (``to_ms``).
# ``Final``, read per event: compiled, each is a C static, not a lookup by name.
PARSED_EPOCH: Final = _AWARE.validate_python("1970-01-01T00:00:00Z")
_PARSED_UTC: Final = PARSED_EPOCH.tzinfo
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (integer arithmetic: no float rounding)."""
    # Two datetimes with the very same tzinfo subtract without asking it their offsets, and
    # pydantic's UTC one is fixed at zero; otherwise both utcoffset calls took half the
    # cost. The fields of the span instead of ``// timedelta(milliseconds=1)``: the same
    # floor (days and seconds are whole milliseconds) without the division's big-int steps.
    span = moment - (PARSED_EPOCH if moment.tzinfo is _PARSED_UTC else _EPOCH)
    return span.days * 86_400_000 + span.seconds * 1000 + span.microseconds // 1000


def check_timestamp(value: Any) -> Any:
    """A timestamp's own rules, before pydantic parses it (its error, as a ValueError)."""
    if isinstance(value, str):
        if not RFC3339.match(value):
            raise ValueError(NOT_RFC3339)
        if SURE_YEARS[0] <= value[:4] <= SURE_YEARS[1]:
            return value
        try:  # a year at the ends: parsed as the field parses it, to check the range
            value = _AWARE.validate_python(value)
        except ValidationError:
            return value  # no valid moment: the field's own parse reports it, as before
    if isinstance(value, datetime):
        if value.utcoffset() is not None and not EARLIEST <= value <= LATEST:
            raise ValueError(OUT_OF_RANGE)
        return value  # a naive one: AwareDatetime rejects it
    raise ValueError(NOT_RFC3339)


Timestamp = Annotated[AwareDatetime, BeforeValidator(check_timestamp)]
