"""Token buckets, origin policy, bot filter and client address: pure, time passed in."""

from __future__ import annotations

import pytest

from tracker.collector.guards import BotFilter, OriginPolicy, client_address
from tracker.collector.ratelimit import RateLimiter
from tracker.errors import ConfigError
from tracker.settings import DEFAULT_BOT_USER_AGENTS, load_settings


def test_bucket_allows_a_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate=2, burst=3)
    assert [limiter.check("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.check("a", 0.0) == pytest.approx(0.5)  # next token in 1/rate s
    assert limiter.check("a", 0.5) == 0.0
    assert limiter.check("b", 0.5) == 0.0, "clients have their own buckets"


def test_refused_requests_take_no_token() -> None:
    limiter = RateLimiter(rate=1, burst=1)
    assert limiter.check("a", 0.0) == 0.0
    for _ in range(5):
        assert limiter.check("a", 0.2) > 0
    assert limiter.check("a", 1.0) == 0.0


def test_zero_rate_is_no_limit() -> None:
    limiter = RateLimiter(rate=0, burst=1)
    assert all(limiter.check("a", 0.0) == 0.0 for _ in range(1000))
    assert len(limiter) == 0


def test_memory_stays_bounded() -> None:
    limiter = RateLimiter(rate=1, burst=5, max_clients=100)
    for i in range(1000):
        limiter.check(f"10.0.{i // 256}.{i % 256}", i * 0.001)
    assert len(limiter) == 100
    limiter.check("late", 100.0)  # everyone else had time to refill: forgotten
    assert len(limiter) == 1


def test_origin_policy() -> None:
    policy = OriginPolicy(("https://shop.example",))
    assert policy.allows(None, "collector.example")
    assert policy.allows("https://shop.example", "collector.example")
    assert policy.allows("https://SHOP.example", "collector.example")
    assert policy.allows("http://collector.example:8088", "collector.example:8088")
    assert not policy.allows("https://evil.example", "collector.example")
    assert not policy.allows("null", "collector.example")
    assert OriginPolicy(("*",)).allows("https://anything.example", None)


@pytest.mark.parametrize(
    ("agent", "reason"),
    [
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/126.0.0.0 Safari/537.36",
            "headlesschrome",
        ),
        ("Mozilla/5.0 (compatible; bingbot/2.0)", "bot"),
        ("facebookexternalhit/1.1", "facebookexternalhit"),
        ("", "no_user_agent"),
        (None, "no_user_agent"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1", None),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0.0.0 Safari/537.36", None),
    ],
)
def test_bot_filter(agent: str | None, reason: str | None) -> None:
    bots = BotFilter(tuple(DEFAULT_BOT_USER_AGENTS.split(",")))
    assert bots.reason(agent) == reason


def test_client_address_trusts_only_the_configured_proxies() -> None:
    assert client_address("10.0.0.1", "1.2.3.4", 0) == "10.0.0.1"
    assert client_address("10.0.0.1", "6.6.6.6, 1.2.3.4", 1) == "1.2.3.4"
    assert client_address("10.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.2", 2) == "1.2.3.4"
    assert client_address("10.0.0.1", None, 1) == "10.0.0.1"
    assert client_address(None, None, 0) == "unknown"


def test_origin_settings_are_checked_and_normalised() -> None:
    settings = load_settings(
        collector_allowed_origins="https://Shop.example/, http://localhost:3000"
    )
    assert settings.collector_allowed_origins == ("https://shop.example", "http://localhost:3000")
    with pytest.raises(ConfigError, match="TRACKER_COLLECTOR_ALLOWED_ORIGINS"):
        load_settings(collector_allowed_origins="shop.example/path")
