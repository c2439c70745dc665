"""A timestamp's rule in one validator judges every input as the two it replaced did.

``timestamps.check_timestamp`` checks the format and, only for years at the ends of the range,
the range: a year from 1971 to 9998 lies within it whatever its offset. The reference
below is the rule as it was written before (a format check before pydantic's parse, a
range check after it); both must accept the same inputs with the same moment and offset,
and reject the rest with the same error, which is what a dead letter's reason quotes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, TypeAdapter, ValidationError

from tracker.core.bounds import EARLIEST, LATEST
from tracker.core.timestamps import RFC3339, SURE_YEARS, Timestamp


def _old_format(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not RFC3339.match(value):
        raise ValueError("must be an RFC 3339 timestamp with offset, e.g. 2026-05-04T09:00:00Z")
    return value


def _old_range(value: datetime) -> datetime:
    if not EARLIEST <= value <= LATEST:
        raise ValueError("out of range: must lie between 1970-01-01 and 9999-12-31 UTC")
    return value


OLD = TypeAdapter(
    Annotated[AwareDatetime, BeforeValidator(_old_format), AfterValidator(_old_range)]
)
NEW: TypeAdapter[datetime] = TypeAdapter(Timestamp)


def _outcome(adapter: TypeAdapter[Any], value: Any) -> tuple[Any, ...]:
    try:
        moment = adapter.validate_python(value)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        return ("rejected", [(e["type"], e["msg"], e["loc"]) for e in errors])
    return ("accepted", moment, moment.utcoffset(), moment.isoformat())


def _digits(low: int, high: int, width: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: str(n).zfill(width))


# Years clustered at both ends of the range and at the edges of the fast path.
_YEARS = st.one_of(
    st.sampled_from([0, 1, 1968, 1969, 1970, 1971, 1972, 2026, 9997, 9998, 9999]),
    st.integers(0, 9999),
).map(lambda y: str(y).zfill(4))
_OFFSETS = st.one_of(
    st.sampled_from(["Z", "z", "+00:00", "-00:00", "+23:59", "-23:59", "+24:00", "-99:59"]),
    st.tuples(st.sampled_from("+-"), _digits(0, 99, 2), _digits(0, 99, 2)).map(
        "{0[0]}{0[1]}:{0[2]}".format
    ),
)
_STAMPS = st.builds(
    "{}-{}-{}{}{}:{}:{}{}{}".format,
    _YEARS,
    _digits(0, 13, 2),
    _digits(0, 32, 2),
    st.sampled_from(["T", "t", " ", "x"]),
    _digits(0, 25, 2),
    _digits(0, 61, 2),
    _digits(0, 61, 2),
    st.one_of(st.just(""), st.text("0123456789", min_size=0, max_size=11).map(".{}".format)),
    _OFFSETS,
)
_MOMENTS = st.builds(
    lambda at, minutes: at.replace(
        tzinfo=None if minutes is None else timezone(timedelta(minutes=minutes))
    ),
    st.datetimes(),
    st.one_of(st.none(), st.integers(-1439, 1439)),
)
_ANYTHING = st.one_of(st.text(max_size=40), st.integers(), st.floats(), st.none(), st.booleans())


@settings(max_examples=1500, deadline=None)
@given(st.one_of(_STAMPS, _MOMENTS, _ANYTHING))
@example("1970-01-01T00:00:00Z")
@example("1970-01-01T00:59:59+01:00")  # 1969 in UTC
@example("1971-01-01T00:00:00+23:59")  # the fast path's first year, in 1970 UTC
@example("9998-12-31T23:59:59-23:59")  # the fast path's last year, in 9999 UTC
@example("9999-12-31T23:59:59.999999Z")
@example("9999-12-31T23:59:59-01:00")  # past the end in UTC
@example("9999-02-30T00:00:00Z")  # no such day, at an end year
@example("1970-01-01T24:00:00Z")
@example(datetime(1969, 12, 31, 23, 59, tzinfo=UTC))
@example(datetime(2026, 5, 4, 9))  # naive
def test_the_one_validator_judges_as_the_two_did(value: Any) -> None:
    assert _outcome(NEW, value) == _outcome(OLD, value)


def test_the_fast_path_years_lie_within_the_range_at_any_offset() -> None:
    widest = timedelta(hours=99, minutes=59)  # the format allows two digits of hours
    low, high = (int(year) for year in SURE_YEARS)
    first = datetime(low, 1, 1) - widest  # the first year's first moment, farthest east
    last = datetime(high, 12, 31, 23, 59, 59, 999999) + widest  # the last's, farthest west
    assert first.replace(tzinfo=UTC) >= EARLIEST and last.replace(tzinfo=UTC) <= LATEST
