"""Generated attacks: events from the project's own JSON Schema, at and one step past every bound.

Valid items come from ``schemas/event.v1.json`` through hypothesis-jsonschema; the
edges of each range are read from the same schema (``minLength``/``maxLength``,
``minimum``/``maximum``, ``[class]{m,n}`` patterns, ``date-time``), plus the bounds
JSON Schema cannot say (``tracker.core.bounds``). Near-valid items break exactly one
thing. Shared by the unit tier (the pure pipeline) and the integration tier (a
running collector and worker).
"""

from __future__ import annotations

import functools
import json
import math
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import HypothesisWarning
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator

from tracker.core.bounds import (
    EARLIEST_MS,
    LATEST_MS,
    MAX_SEND_DELAY_MS,
    PROPERTIES_MAX_BYTES,
    PROPERTIES_MAX_DEPTH,
    REVENUE_DECIMALS,
)

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
EVENT_SCHEMA: dict[str, Any] = json.loads((SCHEMAS / "event.v1.json").read_text())
VALIDATOR = Draft202012Validator(EVENT_SCHEMA)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Most instants lie in one week, so two timestamps of an event usually sit within the
# send-delay bound and the sessions in a message interact; the rest hit the extremes.
NEAR_MS = (1_777_800_000_000, 1_778_400_000_000)  # 2026-05-03 .. 2026-05-10 UTC
STEP = Decimal(1).scaleb(-REVENUE_DECIMALS)
# Rules a JSON Schema cannot state: an instance valid by the schema may still break these.
NOT_IN_SCHEMA = frozenset(
    {"out_of_range:occurred_at", "out_of_range:sent_at", "out_of_range:properties", "invalid:event"}
)


def beyond_the_schema(item: Any, rule: str | None) -> bool:
    """Whether the rule the model rejected an item by is one its JSON Schema cannot state."""
    if rule is None or rule in NOT_IN_SCHEMA:
        return True
    kind, _, field = rule.partition(":")
    # Decimal places of a JSON number: `multipleOf: 0.000001` fails binary floats like 0.1.
    return kind == "out_of_range" and isinstance(item, dict) and type(item.get(field)) is float


_REPEAT = re.compile(r"^\^\[(.)[^\]]*\]\{(\d+)(?:,(\d+))?\}\$$")


def definition(item: Any) -> dict[str, Any] | None:
    """The schema of the event type an item names, via the published discriminator."""
    if not isinstance(item, dict):
        return None
    ref = EVENT_SCHEMA["discriminator"]["mapping"].get(item.get("event_type"))
    return EVENT_SCHEMA["$defs"][ref.rsplit("/", 1)[1]] if isinstance(ref, str) else None


def rfc3339(ms: int, offset_min: int = 0, separator: str = "T", digits: int = 3) -> str:
    """An instant as RFC 3339 text; an offset that would leave years 1..9999 becomes Z."""
    instant = _EPOCH + timedelta(milliseconds=ms)
    try:
        local = instant + timedelta(minutes=offset_min)
    except OverflowError:
        local, offset_min = instant, 0
    if not 1 <= local.year <= 9999:
        local, offset_min = instant, 0
    text = f"{local.year:04d}-{local.month:02d}-{local.day:02d}{separator}"
    text += f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
    if digits:
        text += "." + f"{local.microsecond:06d}000"[:digits]
    if offset_min == 0:
        return text + "Z"
    sign, size = ("+" if offset_min > 0 else "-"), abs(offset_min)
    return text + f"{sign}{size // 60:02d}:{size % 60:02d}"


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 9))
    if kind < 7:
        ms = draw(st.integers(*NEAR_MS))
    elif kind < 9:
        ms = draw(st.sampled_from((EARLIEST_MS, LATEST_MS)))
    else:
        ms = draw(st.integers(EARLIEST_MS, LATEST_MS))
    return rfc3339(
        ms,
        draw(st.sampled_from((0, 0, 60, -60, 330, -(23 * 60 + 59), 14 * 60))),
        draw(st.sampled_from("TTt ")),
        draw(st.sampled_from((0, 3, 3, 1, 6, 9))),
    )


@functools.cache  # building the strategies resolves the schema: once
def valid_events() -> st.SearchStrategy[dict[str, Any]]:
    """Instances of the published event schema, one event type after another.

    hypothesis-jsonschema draws every value; the objects are put together here from
    each definition's ``properties`` and ``required``, as drawing them whole through
    its ``oneOf`` support costs ~70 ms an event.
    """
    mapping = EVENT_SCHEMA["discriminator"]["mapping"]
    return st.one_of([_instances(_resolve({"$ref": ref})) for ref in mapping.values()])


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return EVENT_SCHEMA["$defs"][ref.rsplit("/", 1)[1]] if isinstance(ref, str) else schema


def _instances(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    values = {name: _values(_resolve(prop)) for name, prop in schema["properties"].items()}
    required = set(schema["required"])
    drawn = st.fixed_dictionaries(
        {k: v for k, v in values.items() if k in required},
        optional={k: v for k, v in values.items() if k not in required},
    )
    together = schema.get("dependentRequired", {})  # experiment and variant: both or neither
    return drawn.map(lambda item: _dependent(item, together)) if together else drawn


def _dependent(item: dict[str, Any], together: dict[str, list[str]]) -> dict[str, Any]:
    """``item`` without a property whose ``dependentRequired`` company was not drawn."""
    return {k: v for k, v in item.items() if set(together.get(k, ())) <= item.keys()}


def _values(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "properties" in schema:
        return _instances(schema)
    with warnings.catch_warnings():  # replacing its date-time strategy is the point
        warnings.filterwarnings("ignore", "Overriding standard format", HypothesisWarning)
        return from_schema(schema, custom_formats={"date-time": timestamps()})


# --- the edges of a range, read from the schema --------------------------------------
def nested(depth: int) -> dict[str, Any]:
    value: Any = 0
    for _ in range(depth):
        value = {"d": value}
    return dict(value)


def of_bytes(size: int) -> dict[str, Any]:
    """A properties object that serializes to exactly ``size`` bytes of compact JSON."""
    return {"p": "x" * (size - len(b'{"p":""}'))}


TIMES_INSIDE = (
    rfc3339(EARLIEST_MS, digits=0),
    rfc3339(LATEST_MS),
    "1969-12-31T23:00:00-01:00",  # the earliest instant, said with an offset
    "9999-12-31T23:59:59.999999999z",
)
TIMES_BEYOND = ("1969-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999-00:01")


def _branches(prop: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]


def edges(prop: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """(values at the edges of one property's range, values one step beyond them)."""
    inside: list[Any] = []
    beyond: list[Any] = []
    for branch in _branches(prop):
        kind = branch.get("type")
        if branch.get("format") == "date-time":
            inside += TIMES_INSIDE
            beyond += TIMES_BEYOND
        elif kind == "string" and "maxLength" in branch:
            low, high = branch.get("minLength", 0), branch["maxLength"]
            for char in ("x", "\U0001f600"):  # one character, two UTF-16 units
                inside += [char * max(low, 1), char * high]
                beyond.append(char * (high + 1))
            beyond += ["x" * (low - 1)] if low else []
        elif kind == "string" and (repeat := _REPEAT.match(branch.get("pattern", ""))):
            char, low, high = repeat[1], int(repeat[2]), int(repeat[3] or repeat[2])
            inside += [char * max(low, 1), char * high]
            beyond += [char * (high + 1)] + ([char * (low - 1)] if low else [])
        elif kind in ("integer", "number") and "maximum" in branch:
            as_text = any(b.get("type") == "string" for b in _branches(prop))  # a decimal
            edge, past = _number_edges(kind, branch["minimum"], branch["maximum"], as_text)
            inside += edge
            beyond += past
        elif kind == "object" and branch.get("additionalProperties") is True:
            inside += [nested(PROPERTIES_MAX_DEPTH), of_bytes(PROPERTIES_MAX_BYTES)]
            beyond += [nested(PROPERTIES_MAX_DEPTH + 1), of_bytes(PROPERTIES_MAX_BYTES + 1)]
    return inside, beyond


def _number_edges(kind: str, low: float, high: float, as_text: bool) -> tuple[list[Any], list[Any]]:
    if kind == "integer":
        return [low, high], [low - 1, high + 1]
    inside: list[Any] = [low, high]
    beyond: list[Any] = [math.nextafter(high, math.inf), math.nextafter(low, -math.inf)]
    if as_text:  # exact to the last allowed place, as only text can say it
        top, bottom = Decimal(repr(high)), Decimal(repr(low))
        inside += [f"{top:f}", f"{top - STEP:f}", f"{bottom + STEP:f}"]
        inside.append(f"{top:.{REVENUE_DECIMALS}f}")
        beyond += [f"{top + STEP:f}", f"{bottom - STEP:f}", f"{bottom + STEP / 10:f}"]
    return inside, beyond


def _times(item: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    props = schema["properties"]
    return [k for k in props if any(b.get("format") == "date-time" for b in _branches(props[k]))]


def _delay(item: dict[str, Any], schema: dict[str, Any], beyond: bool) -> dict[str, Any] | None:
    """The send delay at its bound (or one millisecond past it), near the current week."""
    first, *others = _times(item, schema)
    if not others:
        return None
    delay = MAX_SEND_DELAY_MS + (1 if beyond else 0)
    return {**item, first: rfc3339(NEAR_MS[0]), others[0]: rfc3339(NEAR_MS[0] + delay)}


@st.composite
def at_an_edge(draw: st.DrawFn, item: dict[str, Any]) -> dict[str, Any]:
    """``item`` with one property set to an edge of its range (still valid)."""
    schema = definition(item)
    assert schema is not None
    candidates = {k: edges(p)[0] for k, p in schema["properties"].items() if edges(p)[0]}
    name = draw(st.sampled_from([*sorted(candidates), "<send delay>"]))
    if name == "<send delay>":
        return _delay(item, schema, beyond=False) or item
    return with_edge(item, name, draw(st.sampled_from(candidates[name])))


def with_edge(item: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    """``item`` with ``name`` at an edge, its other timestamps too (the send delay holds)."""
    schema = definition(item)
    assert schema is not None
    edged = {**item, name: value}
    if name in (times := _times(item, schema)):
        edged.update({other: value for other in times if edged.get(other) is not None})
    return edged


# --- near-valid: one thing broken --------------------------------------------------------
WRONG_TYPES: tuple[Any, ...] = (0, "0", True, None, [], {}, 0.5, [1])
LONE_SURROGATE = "\ud800"


@st.composite
def broken(draw: st.DrawFn, item: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """``item`` with exactly one thing wrong, and what: the model must reject it."""
    schema = definition(item)
    assert schema is not None
    props, required = schema["properties"], schema["required"]
    kind = draw(st.sampled_from(("missing", "extra", "wrong_type", "beyond", "delay", "surrogate")))
    if kind == "missing":
        name = draw(st.sampled_from(required))
        return {k: v for k, v in item.items() if k != name}, kind
    if kind == "extra":
        return {**item, draw(st.sampled_from(("surprise", "Event_Id", ""))): 1}, kind
    if kind == "wrong_type":
        name = draw(st.sampled_from(sorted(props)))
        wrong = [v for v in WRONG_TYPES if not VALIDATOR.is_valid({**item, name: v})]
        return {**item, name: draw(st.sampled_from(wrong))}, kind
    if kind == "surrogate":
        texts = sorted(k for k, v in item.items() if isinstance(v, str))
        name = draw(st.sampled_from(texts))
        return {**item, name: item[name][:3] + LONE_SURROGATE}, kind
    if kind == "delay" and (late := _delay(item, schema, beyond=True)) is not None:
        return late, kind
    ranged = {k: edges(p)[1] for k, p in props.items() if edges(p)[1]}
    name = draw(st.sampled_from(sorted(ranged)))
    return {**item, name: draw(st.sampled_from(ranged[name]))}, "beyond"


# --- messages ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attack:
    """One Kafka message: its key and bytes, and the items in it the model must reject."""

    key: bytes | None
    value: bytes
    broken: tuple[dict[str, Any], ...] = ()


def encode(payload: Any) -> bytes:
    """As a client would: orjson, else the standard library (lone surrogates, huge ints)."""
    try:
        return orjson.dumps(payload)
    except TypeError:
        return json.dumps(payload, separators=(",", ":")).encode()


def received_items(value: bytes, max_bytes: int, max_events: int) -> int:
    """Items the worker receives from a message: 1 when it cannot be read as events."""
    if len(value) > max_bytes:
        return 1
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return 1
    if isinstance(decoded, list) and 0 < len(decoded) <= max_events:
        return len(decoded)
    return 1


def analytics_refused(item: Any) -> bool:
    """Consent is default deny: without ``analytics: true`` an item is dropped (or is a
    withdrawal) before any other check, however malformed (docs/metrics.md#order-of-checks)."""
    consent = item.get("consent") if isinstance(item, dict) else None
    return not isinstance(consent, dict) or consent.get("analytics") is not True


GARBAGE = (b"", b"{", b"\xff\xfe", b"[]", b"42", b'"text"', b"null", b'["\\ud800"]', b"[[]]")


@st.composite
def attacks(draw: st.DrawFn, max_items: int = 12) -> Attack:
    """A message of mixed valid, edge and near-valid items of one customer, or garbage."""
    if draw(st.integers(0, 19)) == 0:
        value = draw(st.sampled_from(GARBAGE) | st.binary(max_size=64))
        return Attack(draw(st.sampled_from((b"c1", None))), value)
    items: list[dict[str, Any]] = []
    wrong: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, max_items))):
        item = dict(draw(valid_events()))
        role = draw(st.sampled_from(("valid", "valid", "edge", "broken")))
        if role == "edge":
            item = draw(at_an_edge(item))
        elif role == "broken":
            item, _kind = draw(broken(item))
            wrong.append(item)
        items.append(item)
    key = _key(draw, items, wrong)
    single = len(items) == 1 and draw(st.booleans())
    return Attack(key, encode(items[0] if single else items), tuple(wrong))


def _key(draw: st.DrawFn, items: list[dict[str, Any]], wrong: list[dict[str, Any]]) -> bytes | None:
    """Mostly the first item's customer, the other good items made that customer's too."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(st.sampled_from((None, b"\xff", b"k" * 129, b"someone-else")))
    customer = items[0].get("customer_id")
    if not isinstance(customer, str) or LONE_SURROGATE in customer:
        customer = "c"
    for item in items:
        if choice > 2 and not any(item is w for w in wrong):
            item["customer_id"] = customer
    return customer.encode()


def sample(strategy: st.SearchStrategy[Any], count: int, seed: int) -> list[Any]:
    """``count`` draws as hypothesis spreads them, for a test that runs a system only once.

    One ``@given`` example would be the simplest input (every message empty).
    """
    drawn: list[Any] = []

    @settings(
        max_examples=count,
        phases=[Phase.generate],
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    @hypothesis_seed(seed)
    def collect(value: Any) -> None:
        drawn.append(value)

    collect()
    return drawn
