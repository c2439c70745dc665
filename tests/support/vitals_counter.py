"""A small counter of load-time figures, written from docs/metrics.md#web-vitals alone.

It imports nothing from ``tracker``: agreeing with the pipeline on a stream
then shows the rules are implemented as documented, not only that the
plumbing carries the production logic. Simplified where the streams it is
used on allow: no watermark (nothing is late), default settings.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

GAP_S, MAX_SESSION_S = 1800, 86_400
TOUCHPOINTS = [
    "home",
    "catalog",
    "category",
    "search",
    "product",
    "cart",
    "checkout",
    "payment",
    "account",
    "support",
    "survey",
    "consent_banner",
    "store",
    "email",
    "social",
    "app",
]
# Google's thresholds: (good up to, needs improvement up to), in ms (CLS unitless).
THRESHOLDS = {
    "LCP": (2500, 4000),
    "INP": (200, 500),
    "CLS": (0.1, 0.25),
    "FCP": (1800, 3000),
    "TTFB": (800, 1800),
}
BOUNDS = {
    "LCP": (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 10.0),
    "INP": (0.1, 0.2, 0.3, 0.5, 1.0, 2.0),
    "CLS": (0.05, 0.1, 0.15, 0.25, 0.5, 1.0),
    "FCP": (1.0, 1.8, 2.5, 3.0, 4.0, 6.0),
    "TTFB": (0.2, 0.4, 0.8, 1.2, 1.8, 3.0),
}
STARTS = {"page_view", "interaction", "order", "feedback"}
EXTENDS = {"page_ping", "web_vital"}


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _label(touchpoint: str) -> str:
    head = touchpoint.split(":", 1)[0]
    return head if head in TOUCHPOINTS else "other"


def _class(value: float) -> str:
    good, poor = THRESHOLDS["LCP"]
    return "good" if value <= good else "needs-improvement" if value <= poor else "poor"


def count(lines: list[bytes]) -> dict[str, Any]:
    """Counted events, the vitals histogram (cumulative, seconds) and sessions by LCP class."""
    seen: set[tuple[str, str]] = set()
    by_customer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    out: dict[str, Any] = {
        "events": defaultdict(int),
        "buckets": defaultdict(lambda: defaultdict(int)),
        "sums": defaultdict(float),
        "closed": defaultdict(int),
        "converted": defaultdict(int),
    }
    for line in lines:
        event = json.loads(line)
        if not event["consent"]["analytics"] or (event["customer_id"], event["event_id"]) in seen:
            continue
        seen.add((event["customer_id"], event["event_id"]))
        out["events"][event["event_type"]] += 1
        by_customer[event["customer_id"]].append(event)
        if event["event_type"] == "web_vital":
            name, value = event["name"], event["value"]
            shown = value if name == "CLS" else value / 1000
            key = f"{name}|{_label(event['touchpoint'])}"
            for bound in (*BOUNDS[name], float("inf")):
                if shown <= bound:
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    out["buckets"][key][le] += 1
            out["sums"][key] += shown
    for events in by_customer.values():
        for session in _sessions(sorted(events, key=lambda e: _seconds(e["occurred_at"]))):
            lcps = [e for e in session if e["event_type"] == "web_vital" and e["name"] == "LCP"]
            name = _class(lcps[0]["value"]) if lcps else "unmeasured"
            out["closed"][name] += 1
            if any(e["event_type"] == "order" for e in session):
                out["converted"][name] += 1
    return out


def _sessions(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    sessions: list[list[dict[str, Any]]] = []
    start = last = None
    for event in events:
        at, kind = _seconds(event["occurred_at"]), event["event_type"]
        open_ = start is not None and last is not None
        within = open_ and at - last <= GAP_S and at - start < MAX_SESSION_S  # type: ignore[operator]
        if within and (kind in STARTS or kind in EXTENDS):
            sessions[-1].append(event)
            last = max(last, at)  # type: ignore[type-var]
        elif kind in STARTS:
            sessions.append([event])
            start = last = at
    return sessions
