"""A small counter of support service levels, written from docs/metrics.md#support alone.

It imports nothing from ``tracker``: agreeing with the pipeline on a stream then
shows the rules are implemented as documented. Simplified where the streams it is
used on allow: no watermark (nothing late), no withdrawals, default settings,
nothing read after a ticket's lifetime.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

GAP_S, MAX_SESSION_S = 1800, 86_400
FIRST = (30, 60, 120, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800)
RESOLUTION = (300, 900, 3600, 14400, 28800, 86400, 172800, 259200, 604800, 1209600)
STARTS = {"page_view", "interaction", "order", "feedback", "support_contact"}
EXTENDS = {"page_ping", "web_vital"}
AGENTS = {"support_reply", "support_resolved"}


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _observe(into: dict[str, Any], channel: str, seconds: float, bounds: tuple[int, ...]) -> None:
    for bound in (*bounds, float("inf")):
        if seconds <= bound:
            into["buckets"][channel]["+Inf" if bound == float("inf") else f"{bound:.1f}"] += 1
    into["sums"][channel] += seconds


def _table() -> dict[str, Any]:
    return {"buckets": defaultdict(lambda: defaultdict(int)), "sums": defaultdict(float)}


def count(lines: list[bytes]) -> dict[str, Any]:
    out: dict[str, Any] = defaultdict(lambda: defaultdict(int))
    out["first"], out["resolution"] = _table(), _table()
    seen: set[tuple[str, str]] = set()
    tickets: dict[tuple[str, str], dict[str, Any]] = {}
    counted: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        e = json.loads(line)
        key = (e["customer_id"], e.get("ticket_id", ""))
        consented = key in tickets if e["event_type"] in AGENTS else e["consent"]["analytics"]
        if not consented:
            out["dropped"]["no_consent"] += 1
            continue
        if (e["customer_id"], e["event_id"]) in seen:
            out["dropped"]["duplicate"] += 1
            continue
        seen.add((e["customer_id"], e["event_id"]))
        out["events"][e["event_type"]] += 1
        counted[e["customer_id"]].append(e)
        if "ticket_id" in e:
            _ticket(out, tickets, key, e)
    for t in tickets.values():
        out["open"][t["channel"]] += t["resolved"] is None
    for events in counted.values():
        ordered = sorted(events, key=lambda e: _seconds(e["occurred_at"]))
        for session in _sessions(ordered):
            _session(out, session)
    return out


def _ticket(out: Any, tickets: dict[Any, Any], key: Any, e: dict[str, Any]) -> None:
    at, kind = _seconds(e["occurred_at"]), e["event_type"]
    t = tickets.get(key)
    if kind == "support_contact":
        out["contacts"][e["support_channel"]] += 1
        if t is None:
            tickets[key] = {
                "channel": e["support_channel"],
                "first": at,
                "opened": at,
                "replied": None,
                "resolved": None,
            }
            out["opened"][e["support_channel"]] += 1
        elif t["resolved"] is not None:
            out["reopened"][t["channel"]] += 1
            t["opened"], t["resolved"] = at, None
    elif kind == "support_reply" and t["replied"] is None:
        t["replied"] = at
        _observe(out["first"], t["channel"], at - t["first"], FIRST)
    elif kind == "support_resolved" and t["resolved"] is None:
        t["resolved"] = at
        out["resolved"][t["channel"]] += 1
        _observe(out["resolution"], t["channel"], at - t["opened"], RESOLUTION)


def _sessions(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    sessions: list[list[dict[str, Any]]] = []
    start = last = 0.0
    for e in events:
        at, kind = _seconds(e["occurred_at"]), e["event_type"]
        within = bool(sessions) and at - last <= GAP_S and at - start < MAX_SESSION_S
        if within and (kind in STARTS or kind in EXTENDS):
            sessions[-1].append(e)
            last = max(last, at)
        elif kind in STARTS:
            sessions.append([e])
            start = last = at
    return sessions


def _session(out: Any, session: list[dict[str, Any]]) -> None:
    out["started"][session[0]["channel"]] += 1
    contacts = [e for e in session if e["event_type"] == "support_contact"]
    if not contacts:
        return
    first_at = _seconds(contacts[0]["occurred_at"])
    channel = contacts[0]["support_channel"]
    out["with_support"][channel] += 1
    if any(e["event_type"] == "order" and _seconds(e["occurred_at"]) >= first_at for e in session):
        out["rescued"][channel] += 1
    for e in session:
        if e["event_type"] != "feedback":
            continue
        at = _seconds(e["occurred_at"])
        before = [c for c in contacts if _seconds(c["occurred_at"]) <= at]
        if before:
            about = before[-1]["support_channel"]
            if "csat" in e:
                out["support_csat"][f"{e['csat']}|{about}"] += 1
            if "ces" in e:
                out["support_ces"][f"{e['ces']}|{about}"] += 1
