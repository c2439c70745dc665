"""Wire contract, schema_version 1 (docs/contract.md).

Frontends, backends and the collector all speak this; the JSON Schemas in
``schemas/`` are generated from these models by ``tracker schema export``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, Self

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    model_validator,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from tracker.core.bounds import (
    CAMPAIGN_MAX_CHARS,
    COMMENT_MAX_CHARS,
    EXPERIMENT_NAME_PATTERN,
    MAX_SEND_DELAY_MS,
    PROPERTIES_MAX_BYTES,
    PROPERTIES_MAX_DEPTH,
    REFERRER_MAX_CHARS,
    REVENUE_DECIMALS,
    REVENUE_MAX,
    SURE_SEND_DELAY,
    USER_AGENT_MAX_CHARS,
    VITAL_MAX_VALUE,
    depth,
)
from tracker.core.timestamps import RFC3339, Timestamp, to_ms

CHANNELS: tuple[str, ...] = ("web", "app", "social", "store", "email", "call_center", "partner")
EVENT_TYPES: tuple[str, ...] = (
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
)

Channel = Literal["web", "app", "social", "store", "email", "call_center", "partner"]
# Core Web Vitals as the web-vitals library names and rates them (docs/contract.md#web-vitals).
VitalName = Literal["LCP", "INP", "CLS", "FCP", "TTFB"]
VITAL_NAMES: tuple[str, ...] = ("LCP", "INP", "CLS", "FCP", "TTFB")
VitalRating = Literal["good", "needs-improvement", "poor"]
VITAL_RATINGS: tuple[str, ...] = ("good", "needs-improvement", "poor")
NavigationType = Literal[
    "navigate",
    "reload",
    "back-forward",
    "back-forward-cache",
    "prerender",
    "restore",
    "soft-navigation",
]
# Support contacts (docs/contract.md#support): a bounded label of its own beside ``channel``.
SupportChannel = Literal["chat", "phone", "email", "social"]
SUPPORT_CHANNELS: tuple[str, ...] = ("chat", "phone", "email", "social")
# Written by the support team's systems, not the customer: their consent is their ticket's.
AGENT_EVENT_TYPES = frozenset({"support_reply", "support_resolved"})


def limit_properties(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return value
    if depth(value) > PROPERTIES_MAX_DEPTH:
        raise ValueError(f"out of range: properties nest deeper than {PROPERTIES_MAX_DEPTH}")
    try:
        size = len(orjson.dumps(value))
    except TypeError:  # orjson serializes at most 255 levels; the depth check came first
        raise ValueError("out of range: properties nest too deeply") from None
    if size > PROPERTIES_MAX_BYTES:
        raise ValueError(
            f"out of range: properties must serialize to at most {PROPERTIES_MAX_BYTES} bytes"
        )
    return value


def _not_a_bool(value: Any) -> Any:
    # JSON true is no version number, though True == 1 lets Literal[1] take it.
    if isinstance(value, bool):
        raise ValueError("must be the number 1")
    return value


SchemaVersion = Annotated[Literal[1], BeforeValidator(_not_a_bool)]
Text64 = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Text128 = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Touchpoint = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_./:-]{1,64}$")]
ExperimentName = Annotated[str, StringConstraints(pattern=EXPERIMENT_NAME_PATTERN)]
_PAIRED: Any = {"dependentRequired": {"experiment": ["variant"], "variant": ["experiment"]}}
Properties = Annotated[
    dict[str, Any] | None,
    AfterValidator(limit_properties),
    Field(
        description=f"Free-form: at most {PROPERTIES_MAX_BYTES} bytes as compact JSON, "
        f"nested at most {PROPERTIES_MAX_DEPTH} deep"
    ),
]


class Consent(BaseModel):
    """The customer's consent state at the moment of the event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    analytics: StrictBool
    marketing: StrictBool


class _EventBase(BaseModel):
    # schemas/ states what the validator below enforces: experiment and variant come together.
    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=False, json_schema_extra=_PAIRED
    )

    schema_version: SchemaVersion
    event_id: Text64
    customer_id: Text128
    occurred_at: Timestamp
    sent_at: Timestamp | None = None
    channel: Channel
    touchpoint: Touchpoint
    consent: Consent
    properties: Properties = None
    account_id: Text128 | None = None
    # Only for bot filtering, before any state (docs/metrics.md#bots); never stored, never a label.
    user_agent: Annotated[str, StringConstraints(max_length=USER_AGENT_MAX_CHARS)] | None = None
    # The live experiment the customer is in and the variant shown (docs/contract.md#experiments).
    experiment: ExperimentName | None = None
    variant: ExperimentName | None = None

    @model_validator(mode="after")
    def _plausible_send_delay(self) -> Self:
        named = self.model_fields_set  # as the schema's dependentRequired: keys, null or not
        if ("experiment" in named) is not ("variant" in named):
            missing = {"field": "experiment" if "variant" in named else "variant"}
            message = "experiment and variant come together: {field} is missing"
            raise PydanticCustomError("experiment_pair", message, missing)
        sent, at = self.sent_at, self.occurred_at
        if (
            sent is not None
            and abs(sent - at) > SURE_SEND_DELAY
            and abs(to_ms(sent) - to_ms(at)) > MAX_SEND_DELAY_MS
        ):
            message = "sent_at lies more than 366 days from occurred_at"
            raise PydanticCustomError("out_of_range", message, {"field": "sent_at"})
        return self


class PageView(_EventBase):
    event_type: Literal["page_view"]
    referrer: Annotated[str, StringConstraints(max_length=REFERRER_MAX_CHARS)] | None = None
    campaign: Annotated[str, StringConstraints(max_length=CAMPAIGN_MAX_CHARS)] | None = None


class Interaction(_EventBase):
    event_type: Literal["interaction"]
    action: Text64


class PagePing(_EventBase):
    event_type: Literal["page_ping"]


class Order(_EventBase):
    event_type: Literal["order"]
    order_id: Text64
    # A JSON number or a string; 0 is a valid order (free, fully discounted).
    revenue: Annotated[
        Decimal,
        Field(ge=0, le=REVENUE_MAX, decimal_places=REVENUE_DECIMALS, allow_inf_nan=False),
    ]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class ConsentChange(_EventBase):
    event_type: Literal["consent"]


class Feedback(_EventBase):
    event_type: Literal["feedback"]
    nps: Annotated[StrictInt, Field(ge=0, le=10)] | None = None
    csat: Annotated[StrictInt, Field(ge=1, le=5)] | None = None
    ces: Annotated[StrictInt, Field(ge=1, le=7)] | None = None
    comment: Annotated[str, StringConstraints(max_length=COMMENT_MAX_CHARS)] | None = None
    language: Literal["de", "en"] | None = None

    @model_validator(mode="after")
    def _at_least_one_answer(self) -> Feedback:
        problem = feedback_problem(self)
        if problem is not None:
            raise ValueError(problem)
        return self


def feedback_problem(answers: Any) -> str | None:
    """What breaks the feedback rules, or None: at least one answer, a comment's language.

    ``answers``: anything with the feedback fields (this model, or its msgspec struct in
    ``fast_events``), so that both decoders keep the one rule.
    """
    unanswered = answers.nps is None and answers.csat is None and answers.ces is None
    if unanswered and answers.comment is None:
        return "feedback needs at least one of nps, csat, ces or comment"
    if answers.comment is not None and answers.language is None:
        return "a comment needs its language (de or en)"
    return None


class Identify(_EventBase):
    """The device that used anonymous_id as its customer_id is this customer (docs/identity.md)."""

    event_type: Literal["identify"]
    anonymous_id: Text128


class WebVital(_EventBase):
    """A load-time measurement of the page by web-vitals: milliseconds, CLS unitless.

    ``rating`` is the library's; the tracker rates ``value`` itself by the same
    thresholds (docs/metrics.md#web-vitals), so every client is rated alike.
    """

    event_type: Literal["web_vital"]
    name: VitalName
    value: Annotated[float, Field(strict=True, ge=0, le=VITAL_MAX_VALUE, allow_inf_nan=False)]
    rating: VitalRating
    navigation_type: NavigationType | None = None


class _Support(_EventBase):
    ticket_id: Text64
    support_channel: SupportChannel


class SupportContact(_Support):
    """The customer contacts support: opens a ticket, or reopens a resolved one."""

    event_type: Literal["support_contact"]


class SupportReply(_Support):
    """An agent answers the ticket. Its own ``consent`` is not used: the ticket's counts."""

    event_type: Literal["support_reply"]


class SupportResolved(_Support):
    """The ticket is resolved. Its own ``consent`` is not used: the ticket's counts."""

    event_type: Literal["support_resolved"]


Event = Annotated[
    PageView
    | Interaction
    | PagePing
    | Order
    | ConsentChange
    | Feedback
    | Identify
    | WebVital
    | SupportContact
    | SupportReply
    | SupportResolved,
    Field(discriminator="event_type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

MODELS: dict[str, type[_EventBase]] = {
    "page_view": PageView,
    "interaction": Interaction,
    "page_ping": PagePing,
    "order": Order,
    "consent": ConsentChange,
    "feedback": Feedback,
    "identify": Identify,
    "web_vital": WebVital,
    "support_contact": SupportContact,
    "support_reply": SupportReply,
    "support_resolved": SupportResolved,
}


def parse_event(data: Any) -> Event:
    """Validate one decoded JSON value as an event; raises pydantic.ValidationError."""
    event: Event = _validate_event(data)
    return event


# The adapter's compiled validator, called directly: ``TypeAdapter.validate_python`` only
# forwards its default arguments to it, at ~0.3 µs per event on the hot path.
_validate_event = EVENT_ADAPTER.validator.validate_python


class _BoundedJsonSchema(GenerateJsonSchema):
    """pydantic's JSON Schema plus the bounds it leaves out (docs/contract.md#bounds).

    A client validating with ``schemas/``, or a test generating from it, then sees the
    ranges the models enforce; what JSON Schema cannot say (the time range behind an
    offset, the bytes of ``properties``) is in the descriptions.
    """

    def datetime_schema(self, schema: core_schema.DatetimeSchema) -> JsonSchemaValue:
        json_schema = super().datetime_schema(schema)
        json_schema["pattern"] = RFC3339.pattern
        json_schema["description"] = (
            "RFC 3339 with an offset, between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z"
        )
        return json_schema

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        json_schema = super().decimal_schema(schema)
        low, high, places = schema.get("ge"), schema.get("le"), schema.get("decimal_places")
        if low is not None and high is not None and places is not None:
            json_schema["description"] = (
                f"{low} to {high} with at most {places} decimals, as a JSON number or a string"
            )
        return json_schema

    def get_decimal_pattern(self, schema: core_schema.DecimalSchema) -> str | None:
        maximum, places = schema.get("le"), schema.get("decimal_places")
        if schema.get("ge") != 0 or maximum is None or places is None:
            return self.build_decimal_pattern(schema)
        return _decimal_pattern(Decimal(str(maximum)), places)


def _decimal_pattern(maximum: Decimal, places: int) -> str:
    """Plain decimals from 0 to ``maximum`` with at most ``places`` decimals."""
    digits = len(str(int(maximum))) - 1
    if maximum != Decimal(10) ** digits:  # other maxima have no short exact pattern
        return rf"^[0-9]+(\.[0-9]{{1,{places}}})?$"
    return rf"^([0-9]{{1,{digits}}}(\.[0-9]{{1,{places}}})?|{int(maximum)}(\.0{{1,{places}}})?)$"


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema of one event, as published in ``schemas/``."""
    schema = EVENT_ADAPTER.json_schema(mode="validation", schema_generator=_BoundedJsonSchema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://touchpoint-tracker.dev/schemas/event.v1.json"
    schema["title"] = "Touchpoint event, schema_version 1"
    return schema


def message_json_schema() -> dict[str, Any]:
    """A Kafka message: one event, or an array of events of one customer."""
    event = event_json_schema()
    defs = event.pop("$defs", {})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://touchpoint-tracker.dev/schemas/message.v1.json",
        "title": "Touchpoint message: one event or a batch of one customer's events",
        "$defs": {**defs, "Event": {k: v for k, v in event.items() if not k.startswith("$")}},
        "oneOf": [
            {"$ref": "#/$defs/Event"},
            {"type": "array", "items": {"$ref": "#/$defs/Event"}, "minItems": 1},
        ],
    }
