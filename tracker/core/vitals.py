"""Core Web Vitals (docs/metrics.md#web-vitals): histogram buckets and a session's LCP class.

Pure. Values arrive in the web-vitals library's units (milliseconds; CLS has
none) and are exported in seconds (CLS as is). Every threshold of Google's
good / needs-improvement / poor rating is a bucket bound, so whether a
percentile lies above a threshold is exact however Prometheus interpolates.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from tracker.core.aggregates import Delta, counter_key
from tracker.core.codes import VITAL_NAME_CODES, CodeTable
from tracker.core.contract import VITAL_NAMES, VITAL_RATINGS
from tracker.core.customer import Session
from tracker.core.histogram import minute_of

# Upper bounds of good and of needs-improvement (web.dev/articles/vitals): above is poor.
THRESHOLDS: dict[str, tuple[float, float]] = {
    "LCP": (2500, 4000),
    "INP": (200, 500),
    "CLS": (0.1, 0.25),
    "FCP": (1800, 3000),
    "TTFB": (800, 1800),
}
# Histogram bucket bounds in the library's unit; both thresholds are among them.
BUCKETS: dict[str, tuple[float, ...]] = {
    "LCP": (1000, 1500, 2000, 2500, 3000, 4000, 6000, 10000),
    "INP": (100, 200, 300, 500, 1000, 2000),
    "CLS": (0.05, 0.1, 0.15, 0.25, 0.5, 1),
    "FCP": (1000, 1800, 2500, 3000, 4000, 6000),
    "TTFB": (200, 400, 800, 1200, 1800, 3000),
}
UNITLESS = frozenset({"CLS"})
# A session's LCP class: the rating of its first LCP, or none measured.
LCP_CLASSES: tuple[str, ...] = (*VITAL_RATINGS, "unmeasured")
UNMEASURED = LCP_CLASSES.index("unmeasured")
_LCP = VITAL_NAMES.index("LCP")
VITAL_NAME_TABLE = CodeTable("vital name", VITAL_NAMES, VITAL_NAME_CODES)


class Vital(NamedTuple):
    """A web_vital event's measurement: the index of its name and its value."""

    name: int  # index into VITAL_NAMES
    value: float


def encode_vital(vital: Vital | None) -> list[Any] | None:
    """A held or forwarded event's measurement: the name's stable code and the value."""
    return None if vital is None else [VITAL_NAME_TABLE.to_code[vital.name], vital.value]


def decode_vital(raw: Any) -> Vital | None:
    if raw is None:
        return None
    code, value = raw
    return Vital(VITAL_NAME_TABLE.position(int(code)), float(value))


def exported(name: str, value: float) -> float:
    """A value in the exported unit: seconds, CLS unchanged."""
    return value if name in UNITLESS else value / 1000


def bucket_labels(name: str) -> tuple[str, ...]:
    """The ``le`` labels of ``name``'s buckets, ``+Inf`` last."""
    return (*(_number(exported(name, bound)) for bound in BUCKETS[name]), "+Inf")


def _number(value: float) -> str:
    """How Prometheus clients print a bucket bound: 2.5, 4.0, 0.05."""
    return repr(float(value))


_LABELS = {name: bucket_labels(name) for name in VITAL_NAMES}
# The sum is kept as an integer counter in millionths of the exported unit.
_MICROS_PER_UNIT = {name: 1_000_000 if name in UNITLESS else 1_000 for name in VITAL_NAMES}


def rating(name: str, value: float) -> int:
    """Google's rating of a value, as an index into VITAL_RATINGS (web-vitals' own rule)."""
    good, needs_improvement = THRESHOLDS[name]
    if value <= good:
        return 0
    return 1 if value <= needs_improvement else 2


def bucket_of(name: str, value: float) -> str:
    """The ``le`` label of the lowest bucket holding ``value``."""
    for bound, label in zip(BUCKETS[name], _LABELS[name], strict=False):
        if value <= bound:
            return label
    return "+Inf"


def count_vital(vital: Vital, touchpoint: str, delta: Delta) -> None:
    """One measurement into ``tracker_web_vital{name,touchpoint}`` (a counted event's)."""
    name = VITAL_NAMES[vital.name]
    delta.count(counter_key("tracker_web_vital", name, touchpoint, bucket_of(name, vital.value)))
    micros = round(vital.value * _MICROS_PER_UNIT[name])
    delta.count(counter_key("tracker_web_vital_micros", name, touchpoint), micros)


def note_lcp(session: Session, vital: Vital, at_ms: int) -> None:
    """The session's LCP class is its first LCP by event time: the landing page's."""
    if vital.name == _LCP and (session.lcp < 0 or at_ms < session.lcp_ms):
        session.lcp_ms = at_ms
        session.lcp = rating("LCP", vital.value)


def first_lcp(a: Session, b: Session) -> tuple[int, int]:
    """``(lcp_ms, lcp)`` of two sessions merged into one: the earlier LCP (``a``'s on a tie)."""
    if b.lcp >= 0 and (a.lcp < 0 or b.lcp_ms < a.lcp_ms):
        return b.lcp_ms, b.lcp
    return a.lcp_ms, a.lcp


def count_lcp_class(lcp: int, converted: bool, last_ms: int, delta: Delta) -> None:
    """A closed session by its LCP class (``lcp``: index into LCP_CLASSES, -1 none)."""
    name = LCP_CLASSES[lcp if lcp >= 0 else UNMEASURED]
    minute = minute_of(last_ms)
    delta.count(counter_key("tracker_sessions_closed_by_lcp_total", name))
    delta.bucket(f"sess:closed:lcp:{name}", minute, 1)
    if converted:
        delta.count(counter_key("tracker_sessions_converted_by_lcp_total", name))
        delta.bucket(f"sess:converted:lcp:{name}", minute, 1)
