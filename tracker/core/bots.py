"""Is this user agent a bot? The maintained crawler list, headless browsers, a missing agent.

The list is the ``crawler-user-agents`` package (monperrus/crawler-user-agents, pinned in
pyproject.toml; upgrading the pin updates the list): about 1,500 regular expressions.
One alternation of all of them costs about a millisecond per user agent in Python's
``re``, so a client sending a fresh agent with every request could buy a millisecond of
CPU each time. Instead every pattern's longest literal run (its anchor, lower-cased) goes
into one trie-shaped expression that finds, in one pass, which anchors occur; only the
patterns behind those anchors are then run. Answers are cached per agent, since real
traffic repeats a few thousand agents.

Rules, a bounded label set (``tracker_bot_events_total{rule}``), checked in this order:

- ``no_user_agent``: the agent is empty where one was expected (a browser sends one);
- ``headless``: the agent says it is a headless browser (HeadlessChrome and the like);
- ``crawler_list``: a pattern of the maintained list matches.

Pure: no I/O after the list is loaded at import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import crawleruseragents

NO_USER_AGENT = "no_user_agent"
HEADLESS = "headless"
CRAWLER_LIST = "crawler_list"
RULES: tuple[str, ...] = (NO_USER_AGENT, HEADLESS, CRAWLER_LIST)
# The one heuristic beyond the list: automation builds of browsers announce themselves.
HEADLESS_MARK = "headless"
MIN_ANCHOR = 3  # shorter literal runs would make nearly every agent a candidate
CACHE_SIZE = 8192


def _anchor(pattern: str) -> str:
    """The longest literal run of ``pattern``, lower-cased; '' when it has none worth it."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return ""
    best, run = "", ""
    for op, arg in parsed:
        if op is sre_constants.LITERAL:
            run += chr(arg)
        elif op is sre_constants.IN and _case_variants(arg):
            run += chr(arg[0][1])  # [pP]ingdom: the list spells case-insensitivity so
        else:
            best, run = max(best, run, key=len), ""
    best = max(best, run, key=len)
    return best.lower() if len(best) >= MIN_ANCHOR else ""


def _case_variants(items: Any) -> bool:
    return all(op is sre_constants.LITERAL for op, _ in items) and (
        len({chr(value).lower() for _, value in items}) == 1
    )


def _trie_pattern(words: Iterable[str]) -> str:
    """One expression matching each word, longest first at a position (a trie, greedy)."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def render(node: dict[str, Any]) -> str:
        ends = "" in node
        branches = [re.escape(char) + render(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            return f"(?:{body})?"
        return body

    return render(trie)


class CrawlerList:
    """The maintained list, matched through its anchors (see the module docstring)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.by_anchor: dict[str, list[re.Pattern[str]]] = {}
        self.unanchored: list[re.Pattern[str]] = []
        for pattern in patterns:
            compiled = re.compile(pattern)
            anchor = _anchor(pattern)
            if anchor:
                self.by_anchor.setdefault(anchor, []).append(compiled)
            else:
                self.unanchored.append(compiled)
        anchors = sorted(self.by_anchor)
        # Every anchor that is a prefix of another is tried with it: the trie takes the longest.
        known = set(anchors)
        self.prefixes = {
            a: [a[:n] for n in range(MIN_ANCHOR, len(a) + 1) if a[:n] in known] for a in anchors
        }
        self.finder = re.compile("(?=(" + _trie_pattern(anchors) + "))")

    def __len__(self) -> int:
        return sum(map(len, self.by_anchor.values())) + len(self.unanchored)

    def matches(self, user_agent: str) -> bool:
        if any(p.search(user_agent) for p in self.unanchored):
            return True
        tried: set[str] = set()
        for found in self.finder.finditer(user_agent.lower()):
            for anchor in self.prefixes[found.group(1)]:
                if anchor in tried:
                    continue
                tried.add(anchor)
                if any(p.search(user_agent) for p in self.by_anchor[anchor]):
                    return True
        return False


CRAWLERS = CrawlerList(entry["pattern"] for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA)


@lru_cache(maxsize=CACHE_SIZE)
def bot_rule(user_agent: str) -> str | None:
    """The rule a user agent breaks, or None for a likely human."""
    if not user_agent.strip():
        return NO_USER_AGENT
    if HEADLESS_MARK in user_agent.lower():
        return HEADLESS
    if CRAWLERS.matches(user_agent):
        return CRAWLER_LIST
    return None
