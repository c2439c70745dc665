"""Bots: the maintained list, headless browsers, missing agents (docs/metrics.md#bots).

Expected totals are worked out by hand from the rules, not from the processor.
"""

from __future__ import annotations

import random
import time

import crawleruseragents
import orjson
import pytest

from tests.unit.collector_support import FakeBroker, collector, post
from tests.unit.helpers import Harness, ev
from tracker.collector.guards import BotFilter
from tracker.core.bots import CRAWLERS, bot_rule
from tracker.core.ingest import Bot, Limits, Valid, classify
from tracker.settings import DEFAULT_BOT_USER_AGENTS, load_settings

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
# A phone brand that a hand-written "bot" substring list drops; the maintained list does not.
CUBOT = "Mozilla/5.0 (Linux; Android 13; CUBOT KINGKONG 9) AppleWebKit/537.36 Chrome/120 Mobile"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
HEADLESS = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/126.0 Safari/537.36"


@pytest.mark.parametrize(
    ("agent", "rule"),
    [
        (CHROME, None),
        (IPHONE, None),
        (CUBOT, None),
        (GOOGLEBOT, "crawler_list"),
        ("python-requests/2.32.3", "crawler_list"),
        ("Mozilla/5.0 (compatible; GPTBot/1.2; +https://openai.com/gptbot)", "crawler_list"),
        (HEADLESS, "headless"),
        ("", "no_user_agent"),
        ("   ", "no_user_agent"),
    ],
)
def test_rules(agent: str, rule: str | None) -> None:
    assert bot_rule(agent) == rule


def test_the_anchored_matcher_agrees_with_the_list_on_every_example_it_ships() -> None:
    examples = [
        agent
        for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA
        for agent in entry.get("instances", [])
    ]
    assert len(examples) > 1000
    for agent in examples:
        assert CRAWLERS.matches(agent) == crawleruseragents.is_crawler(agent), agent
    assert len(CRAWLERS) == len(crawleruseragents.CRAWLER_USER_AGENTS_DATA)


def test_a_fresh_agent_costs_microseconds_not_a_millisecond() -> None:
    rng = random.Random(7)
    agents = [f"{CHROME} r/{rng.getrandbits(64):x}" for _ in range(300)]
    started = time.perf_counter()
    for agent in agents:
        CRAWLERS.matches(agent)  # uncached: each agent is new
    per_agent = (time.perf_counter() - started) / len(agents)
    assert per_agent < 300e-6, f"{per_agent * 1e6:.0f} µs per agent"


def test_classify_drops_a_bot_after_consent_schema_and_key() -> None:
    limits = Limits()
    [item] = classify("ana", ev_bytes(ev("page_view", "ana", 0, user_agent=GOOGLEBOT)), limits)
    assert item == Bot("crawler_list")
    # No consent decides first: a bot without consent is no_consent, like anyone.
    [item] = classify("ana", ev_bytes(ev("page_view", "ana", 0, analytics=False)), limits)
    assert type(item).__name__ == "NoConsent"
    [item] = classify("ana", ev_bytes(ev("page_view", "ana", 0, user_agent=CHROME)), limits)
    assert isinstance(item, Valid)
    off = Limits(bots=False)
    [item] = classify("ana", ev_bytes(ev("page_view", "ana", 0, user_agent=GOOGLEBOT)), off)
    assert isinstance(item, Valid)


def ev_bytes(event: dict[str, object]) -> bytes:
    return orjson.dumps(event)


def test_bots_are_dropped_before_any_state_and_counted_by_rule() -> None:
    h = Harness()
    h.send(
        ev("page_view", "ana", 0, user_agent=CHROME),
        ev("page_view", "ana", 10, user_agent=CUBOT),
        ev("order", "ana", 20),  # a backend's order: no agent, never judged
        ev("page_view", "crawl", 5, user_agent=GOOGLEBOT),
        ev("page_view", "crawl", 6, user_agent=GOOGLEBOT),
        ev("page_view", "head", 7, user_agent=HEADLESS),
        ev("page_view", "blank", 8, user_agent=""),
    )
    h.close_all()
    # By hand: ana's three events count, one session, one order; four bot events dropped.
    assert h.total("tracker_events_total") == 3
    assert h.total("tracker_sessions_started_total") == 1
    assert h.total("tracker_orders_total") == 1
    assert h.total("tracker_events_dropped_total", reason="bot") == 4
    assert h.total("tracker_bot_events_total", rule="crawler_list") == 2
    assert h.total("tracker_bot_events_total", rule="headless") == 1
    assert h.total("tracker_bot_events_total", rule="no_user_agent") == 1
    assert h.total("tracker_events_received_total") == 7
    for bot in ("crawl", "head", "blank"):
        assert h.state(bot) is None, "nothing is kept for a bot"
    assert h.total("tracker_reach", window="1h", channel="all") <= 1


def test_the_worker_filter_can_be_switched_off() -> None:
    h = Harness(bot_filter_off=("kafka",))
    h.send(ev("page_view", "crawl", 0, user_agent=GOOGLEBOT))
    assert h.total("tracker_events_total") == 1
    assert h.total("tracker_events_dropped_total", reason="bot") == 0


def test_collector_filter_keeps_configured_reasons_and_adds_the_list() -> None:
    bots = BotFilter(tuple(DEFAULT_BOT_USER_AGENTS.split(",")))
    assert bots.reason(GOOGLEBOT) == "bot", "a configured pattern keeps its reason"
    assert bots.reason("python-requests/2.32.3") == "crawler_list"
    assert bots.reason(None) == "no_user_agent"
    assert BotFilter(()).reason(HEADLESS) == "headless"
    assert BotFilter(()).reason(CHROME) is None


def test_bot_filter_off_names_known_sources() -> None:
    assert load_settings(bot_filter_off="snippet,kafka").bot_filter_off == ("snippet", "kafka")
    with pytest.raises(Exception, match="TRACKER_BOT_FILTER_OFF"):
        load_settings(bot_filter_off="everything")


async def test_snippet_source_switched_off_lets_bots_through_without_their_agent() -> None:
    events = [ev("page_view", "crawl", 0, user_agent=GOOGLEBOT)]
    broker = FakeBroker()
    async with collector(broker, bot_filter_off=("snippet",)) as client:
        status, body, _ = await post(client, events, headers={"User-Agent": GOOGLEBOT})
    assert (status, body["accepted"]) == (202, 1)
    assert "user_agent" not in broker.events()[0], "else the worker would drop it"
    broker = FakeBroker()
    async with collector(broker) as client:  # on: the agent goes on for the worker to judge
        status, body, _ = await post(client, events)
    assert broker.events()[0]["user_agent"] == GOOGLEBOT


def test_the_demo_summary_shows_the_bots() -> None:
    from tracker.demo import render_summary

    h = Harness()
    h.send(ev("page_view", "crawl", 0, user_agent=GOOGLEBOT))
    h.send(ev("page_view", "head", 1, user_agent=HEADLESS))
    text = render_summary(h.samples(), 1.0, "http://127.0.0.1:6066/metrics")
    assert "bots         dropped 2   crawler list 1   headless 1   no user agent 0" in text
