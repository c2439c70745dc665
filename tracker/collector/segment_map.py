"""One Segment message as one tracker event (docs/segment.md#mapping).

Pure: the message, the source's settings and the time of receipt are passed in.
Only what the contract uses is kept; traits, integrations and the rest of the
context are dropped here and never reach Kafka.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from tracker.collector.segment_ecommerce import order_fields, spec_event
from tracker.collector.segment_experiments import experiment_fields
from tracker.core.bounds import USER_AGENT_MAX_CHARS, rule_of
from tracker.core.contract import CHANNELS, parse_event

KINDS = ("track", "page", "screen", "identify", "alias", "group")
MAX_MESSAGE_BYTES = 32 * 1024  # Segment's own limit per message
MAX_ERRORS = 10
_NOT_TOUCHPOINT = re.compile(r"[^a-z0-9_./:-]+")
# Segment's channel values, and the libraries that tell where a call came from.
SEGMENT_CHANNELS = {"browser": "web", "client": "web", "mobile": "app", "server": None}
WEB_LIBRARIES = ("analytics.js", "analytics-next", "@segment/analytics-next")
APP_LIBRARY_WORDS = ("ios", "android", "react-native", "flutter", "swift", "kotlin", "xamarin")


@dataclass(frozen=True, slots=True)
class Source:
    """What a write key's source is configured to be."""

    upstream_consent: bool = False  # KEY:upstream: a call without a consent object consented
    categories: tuple[tuple[str, str], ...] = ()  # (category name, analytics|marketing)
    user_agents: bool = True  # pass context.userAgent on (TRACKER_BOT_FILTER_OFF=segment: no)
    names: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", dict(self.categories))  # looked up per message


@dataclass(frozen=True, slots=True)
class Mapped:
    customer: str
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Skipped:
    outcome: str  # no_consent, or ignored: nothing in it for the tracker


@dataclass(frozen=True, slots=True)
class Invalid:
    errors: tuple[dict[str, str], ...]


Result = Mapped | Skipped | Invalid


def invalid(field: str, message: str, rule: str) -> Invalid:
    return Invalid(({"field": field, "message": message, "rule": rule},))


def map_message(item: Any, kind: str | None, source: Source, received: str) -> Result:
    """``kind``: the call's type from the path, or None in a batch (the item's own)."""
    if not isinstance(item, dict):
        return invalid("message", "a message is a JSON object", "invalid:message")
    try:
        size = len(orjson.dumps(item))
    except TypeError:  # nested deeper than orjson writes
        size = MAX_MESSAGE_BYTES + 1
    if size > MAX_MESSAGE_BYTES:
        detail = f"larger than {MAX_MESSAGE_BYTES} bytes, or nested too deeply"
        return invalid("message", detail, "out_of_range:message")
    kind = kind or item.get("type")
    if kind not in KINDS:
        return invalid("type", f"one of {', '.join(KINDS)}", "invalid:type")
    context = _object(item.get("context"))
    consent = consent_of(context, source)
    if consent is None:
        return Skipped("no_consent")
    event = _base(item, context, received)
    if isinstance(event, Invalid):
        return event
    event["consent"] = consent
    typed = _typed(kind, item, context, event)
    if not isinstance(typed, dict):
        return typed
    typed.update(experiment_fields(item, context))
    agent = _user_agent(item, context) if source.user_agents else None
    if agent is not None:
        typed["user_agent"] = agent
    return _validated(typed)


def _base(item: dict[str, Any], context: dict[str, Any], received: str) -> dict[str, Any] | Invalid:
    user, anonymous = _id(item.get("userId")), _id(item.get("anonymousId"))
    customer = user or anonymous
    if customer is None:
        return invalid("userId", "userId or anonymousId is required", "invalid:userId")
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": _event_id(item),
        "customer_id": customer,
        "occurred_at": _text(item.get("timestamp") or item.get("originalTimestamp")) or received,
        "channel": channel_of(item, context),
    }
    sent = _text(item.get("sentAt"))
    if sent is not None:
        event["sent_at"] = sent
    group = _id(context.get("groupId"))
    if group is not None:
        event["account_id"] = group
    return event


def _typed(
    kind: str, item: dict[str, Any], context: dict[str, Any], event: dict[str, Any]
) -> dict[str, Any] | Result:
    properties = _object(item.get("properties"))
    if kind in ("page", "screen"):
        if kind == "screen":
            event["channel"] = "app"
        path = properties.get("path") or _page(context).get("path")
        touchpoint = _slug(item.get("category")) or _slug(item.get("name")) or _path(path)
        return {**event, "event_type": "page_view", "touchpoint": touchpoint or "page"}
    if kind == "track":
        return _track(item, context, properties, event)
    if kind in ("identify", "alias"):
        anonymous = _id(item.get("previousId") if kind == "alias" else item.get("anonymousId"))
        user = _id(item.get("userId"))
        if user is None or anonymous is None:
            return Skipped("ignored")  # traits only: nothing links two ids
        touchpoint = _path(_page(context).get("path")) or "account"
        return {
            **event,
            "event_type": "identify",
            "anonymous_id": anonymous,
            "touchpoint": touchpoint,
        }
    return Skipped("ignored")  # group: the account comes with each call's context.groupId


def _track(
    item: dict[str, Any], context: dict[str, Any], properties: dict[str, Any], event: dict[str, Any]
) -> dict[str, Any] | Result:
    name = item.get("event")
    if not isinstance(name, str) or not name.strip():
        return invalid("event", "a track call names its event", "invalid:event")
    page = _path(_page(context).get("path"))
    spec = spec_event(name)
    if spec is None:
        action = (_slug(name) or "event")[:64]
        return {
            **event,
            "event_type": "interaction",
            "action": action,
            "touchpoint": page or "other",
        }
    touchpoint = spec.touchpoint or page or "other"
    fields: dict[str, Any] = {"event_type": spec.event_type, "touchpoint": touchpoint}
    if spec.event_type == "interaction":
        fields["action"] = spec.action
    elif spec.event_type == "order":
        fields.update(order_fields(properties, event["event_id"]))
    return {**event, **fields}


def consent_of(context: dict[str, Any], source: Source) -> dict[str, bool] | None:
    """The tracker's consent from Segment's consent object; None: not consented."""
    consent = context.get("consent")
    preferences = consent.get("categoryPreferences") if isinstance(consent, dict) else None
    if not isinstance(preferences, dict):
        upstream = source.upstream_consent
        return {"analytics": True, "marketing": False} if upstream else None
    # Every mapped category of a kind must say yes, and at least one must exist.
    seen = {"analytics": False, "marketing": False}
    refused = {"analytics": False, "marketing": False}
    names = source.names
    for category, value in preferences.items():
        target = names.get(str(category).lower())
        if target is not None:
            seen[target] = True
            refused[target] = refused[target] or value is not True
    if not seen["analytics"] or refused["analytics"]:
        return None
    return {"analytics": True, "marketing": seen["marketing"] and not refused["marketing"]}


def channel_of(item: dict[str, Any], context: dict[str, Any]) -> str:
    """docs/segment.md#channel: an explicit tracker channel, Segment's, the library's, web."""
    for value in (context.get("channel"), item.get("channel")):
        if isinstance(value, str):
            value = value.lower()
            if value in CHANNELS:
                return value
            mapped = SEGMENT_CHANNELS.get(value)
            if mapped is not None:
                return mapped
    library = context.get("library")
    name = library.get("name") if isinstance(library, dict) else None
    if isinstance(name, str):
        name = name.lower()
        if any(word in name for word in APP_LIBRARY_WORDS):
            return "app"
    return "web"


def _user_agent(item: dict[str, Any], context: dict[str, Any]) -> str | None:
    agent = context.get("userAgent")
    if isinstance(agent, str):
        return agent[:USER_AGENT_MAX_CHARS]
    return "" if _from_browser(item, context) else None  # a browser always has one


def _from_browser(item: dict[str, Any], context: dict[str, Any]) -> bool:
    library = context.get("library")
    name = library.get("name") if isinstance(library, dict) else None
    channel = context.get("channel", item.get("channel"))
    return name in WEB_LIBRARIES or channel == "browser"


def _validated(event: dict[str, Any]) -> Result:
    try:
        parse_event(event)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)[:MAX_ERRORS]
        return Invalid(tuple(_error(error, event["event_type"]) for error in errors))
    return Mapped(event["customer_id"], event)


def _error(error: Any, tag: str) -> dict[str, str]:
    loc = [str(part) for part in error["loc"]]
    if loc and loc[0] == tag:
        loc = loc[1:]
    return {"field": ".".join(loc) or "event", "message": error["msg"], "rule": rule_of(error)}


def _id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    return text if 1 <= len(text) <= 128 else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _event_id(item: dict[str, Any]) -> str:
    """messageId, which SDKs keep across retries; a long one or none: a digest of the
    message, so an identical retry is still the same event."""
    message_id = item.get("messageId")
    if isinstance(message_id, str) and 1 <= len(message_id) <= 64:
        return message_id
    digest = hashlib.sha256(orjson.dumps(item, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"sha256:{digest[:56]}"


def _page(context: dict[str, Any]) -> dict[str, Any]:
    return _object(context.get("page"))


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _slug(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    return _NOT_TOUCHPOINT.sub("_", value.strip().lower()).strip("_")[:64]


def _path(path: Any) -> str:
    """/ is home; else the first segment of the path: /products/42 is products."""
    if not isinstance(path, str) or not path.startswith("/"):
        return ""
    first = path.split("?", 1)[0].strip("/").split("/", 1)[0]
    return _slug(first) if first else "home"
