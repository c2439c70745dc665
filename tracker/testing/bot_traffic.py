"""The bots in the synthetic traffic: crawlers and automation that run the snippet.

Only bots that execute JavaScript and get past the consent banner reach a tracker at
all; those are a few percent of sessions on a typical shop (search-engine renderers,
SEO and AI crawlers, uptime checks, headless test scripts). ``BOT_SHARE`` is that
share of journeys. Their draws come from a generator of their own, seeded from the
main one without consuming it, so a seed's human stream stays what it was.
"""

from __future__ import annotations

import random

from tracker.testing.experience_traffic import Step

BOT_SHARE = 0.04
# (user agent, weight): the maintained list knows each crawler; "" is a client that should
# have sent an agent and did not.
BOT_AGENTS = (
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 30),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 15),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", 10),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2)", 10),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/126.0 Safari/537.36", 20),
    ("python-requests/2.32.3", 5),
    ("", 10),
)
BROWSER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
)
PAGES = ("home", "category", "product", "search", "product", "category")


class BotTraffic:
    def __init__(self, rng: random.Random, share: float = BOT_SHARE) -> None:
        # Seeded from the internal state's ints only: hash() of a tuple of ints is the same
        # in every process, but the whole state also holds None, whose hash is its address
        # before Python 3.12, which made one seed give a different stream in each process.
        self.rng = random.Random(hash(rng.getstate()[1]))
        self.share = share
        self._ids = 0

    def browser(self) -> str:
        """A human visitor's agent, as the snippet sends it."""
        return self.rng.choice(BROWSER_AGENTS)

    def wanted(self) -> bool:
        return self.share > 0 and self.rng.random() < self.share

    def journey(self) -> tuple[str, list[Step]]:
        """A crawl: a bot id, then page views a second or two apart, all with its agent."""
        rng = self.rng
        agents = [a for a, _ in BOT_AGENTS]
        agent = rng.choices(agents, weights=[w for _, w in BOT_AGENTS])[0]
        customer = f"bot-{rng.getrandbits(48):012x}"
        steps: list[Step] = []
        for index in range(rng.randint(2, 8)):
            self._ids += 1
            event = {
                "schema_version": 1,
                "event_id": f"{rng.getrandbits(64):016x}-b{self._ids}",
                "event_type": "page_view",
                "customer_id": customer,
                "channel": "web",
                "touchpoint": rng.choice(PAGES),
                "consent": {"analytics": True, "marketing": False},
                "user_agent": agent,
            }
            steps.append((0 if index == 0 else rng.uniform(0.5, 3), event))
        return customer, steps
