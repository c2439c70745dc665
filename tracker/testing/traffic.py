"""Realistic synthetic traffic: customer journeys across channels, as wire messages.

Pure: a seeded ``random.Random`` and the clock are passed in, so the same
seed gives the same stream (tests and benchmarks rely on that). Customers
arrive over web, app, social, store and email; journeys run through home,
category, search, product, cart and checkout; some bounce, some convert and
leave feedback in German or English, some lack consent, a few withdraw,
some B2B buyers act for an account, a little input is malformed, and a few
crawlers and headless browsers run the snippet too (``bot_traffic``).
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import orjson

from tracker.testing.bot_traffic import BOT_SHARE, BotTraffic
from tracker.testing.experience_traffic import (
    Step,
    add_experiment,
    add_support,
    add_vitals,
    side_rng,
)
from tracker.testing.identity_traffic import LOGIN_SHARE, add_login
from tracker.testing.identity_traffic import side_rng as identity_rng

ENTRY_CHANNELS = (("web", 50), ("app", 20), ("social", 12), ("email", 10), ("store", 8))
STORES = ("store:berlin", "store:munich", "store:hamburg", "store:vienna")
ACTIONS = ("search", "filter", "add_to_cart", "wishlist_add", "compare", "support_chat")
CURRENCIES = (("EUR", 85), ("USD", 10), ("GBP", 5))

# Called with each planned journey's customer, steps and start (ms) before it is queued;
# it may rewrite the steps' ids in place and returns the journey's customer.
Recast = Callable[[str, list[Step], int], str]


def _weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def _key(event: dict[str, Any] | bytes) -> str | None:
    return event.get("customer_id") if isinstance(event, dict) else None


def _comments() -> dict[str, list[str]]:
    bank: dict[str, list[str]] = {}
    for language in ("de", "en"):
        path = resources.files("tracker") / "data" / "sentiment" / f"{language}.jsonl"
        bank[language] = [
            json.loads(line)["text"] for line in path.read_text().splitlines() if line
        ]
    return bank


@dataclass(order=True)
class _Pending:
    due_ms: int
    seq: int
    journey: _Journey = field(compare=False)


@dataclass
class _Journey:
    customer: str
    steps: list[Step]
    index: int = 0
    rng: random.Random | None = None  # a bot's journey draws from the bots' generator


@dataclass(frozen=True, slots=True)
class Message:
    key: bytes | None
    value: bytes
    timestamp_ms: int
    events: int


class TrafficGenerator:
    def __init__(
        self,
        rng: random.Random,
        *,
        returning_pool: int = 5_000,
        accounts: int = 40,
        time_scale: float = 1.0,
        malformed_share: float = 0.005,
        bot_share: float = BOT_SHARE,
        login_share: float = LOGIN_SHARE,
        recast: Recast | None = None,
    ) -> None:
        self.rng = rng
        # bench/soak_traffic.py: a fixed population whose customers rest between visits.
        self.recast = recast
        self.planned_events = 0  # events (and malformed messages) of every journey queued
        self.time_scale = time_scale  # < 1 compresses think times (demo)
        self.malformed_share = malformed_share
        self._pool = [f"cust-{rng.getrandbits(48):012x}" for _ in range(returning_pool)]
        self._accounts = [f"acct-{rng.getrandbits(32):08x}" for _ in range(accounts)]
        self._members: dict[str, str] = {}
        self._queue: list[_Pending] = []
        self._seq = 0
        self._ids = 0
        self._comments = _comments()
        self._bots = BotTraffic(rng, bot_share)
        self.login_share = login_share  # of consented journeys: anonymous until a login

    # --- public ---------------------------------------------------------------
    def start_journeys(self, count: int, now_ms: int) -> None:
        for _ in range(count):
            journey = self._plan()
            delay = int(self.rng.uniform(0, 1000))
            self._queue_journey(journey, now_ms + delay)
            if self._bots.wanted():
                customer, steps = self._bots.journey()
                self._queue_journey(_Journey(customer, steps, rng=self._bots.rng), now_ms + delay)

    def keep_up(self, events: float, now_ms: int) -> None:
        """Start journeys until those started hold ``events`` events: a live producer passes
        its rate times the time since it began, and sends what ``due`` gives it (journeys
        vary in length, so counting their events, not them, keeps the rate it asks)."""
        while self.planned_events < events:
            self.start_journeys(1, now_ms)

    def due(self, now_ms: int, max_batch: int = 1, window_s: float = 10.0) -> list[Message]:
        """Messages whose time has come.

        With ``max_batch`` > 1 a customer's events within ``window_s`` of each
        other travel in one array message, as a collector's flush would send them.
        """
        out: list[Message] = []
        while self._queue and self._queue[0].due_ms <= now_ms:
            pending = heapq.heappop(self._queue)
            journey, at = pending.journey, pending.due_ms
            batch: list[dict[str, Any]] = []
            last = at
            while journey.index < len(journey.steps) and len(batch) < max_batch:
                wait, event = journey.steps[journey.index]
                if batch and (max_batch == 1 or wait * self.time_scale > window_s):
                    break
                if batch and isinstance(event, dict) and _key(event) != batch[0]["customer_id"]:
                    break  # a login: the customer's events go under their own key
                moment = last + int(wait * self.time_scale * 1000) if batch else at
                journey.index += 1
                last = moment
                if isinstance(event, bytes):
                    out.append(Message(journey.customer.encode(), event, moment, 1))
                    break
                batch.append(self._stamp(event, moment, journey.rng or self.rng))
            if batch:
                value = orjson.dumps(batch[0] if max_batch == 1 else batch)
                out.append(Message(batch[0]["customer_id"].encode(), value, last, len(batch)))
            if journey.index < len(journey.steps):
                wait = journey.steps[journey.index][0] * self.time_scale
                heapq.heappush(
                    self._queue, _Pending(last + int(wait * 1000), self._next_seq(), journey)
                )
        return out

    @property
    def active_journeys(self) -> int:
        return len(self._queue)

    def simulate(
        self,
        events: int,
        start_ms: int,
        rate: float,
        max_batch: int = 1,
        *,
        until_ms: int | None = None,
    ) -> list[Message]:
        """A time-ordered stream of about ``events`` events at ``rate`` events/s of event time.

        ``until_ms`` ends it earlier, at that event time: a window of wall-clock time is
        covered only so, since ``rate`` counts journeys started, not their events.
        """
        out: list[Message] = []
        now, sent, step_ms = start_ms, 0, 100
        while sent < events and (until_ms is None or now <= until_ms):
            self.start_journeys(max(1, round(rate * step_ms / 1000 / 5.5)), now)
            for message in self.due(now, max_batch):
                out.append(message)
                sent += message.events
            now += step_ms
        return out

    # --- internals --------------------------------------------------------------
    def _queue_journey(self, journey: _Journey, at_ms: int) -> None:
        if self.recast is not None:
            journey.customer = self.recast(journey.customer, journey.steps, at_ms)
        self.planned_events += len(journey.steps)
        heapq.heappush(self._queue, _Pending(at_ms, self._next_seq(), journey))

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _stamp(self, event: dict[str, Any], at_ms: int, rng: random.Random) -> dict[str, Any]:
        stamped = dict(event)
        stamped["occurred_at"] = _iso(at_ms)
        stamped["sent_at"] = _iso(at_ms + rng.randint(0, 1500))
        return stamped

    def _event_id(self) -> str:
        self._ids += 1
        return f"{self.rng.getrandbits(64):016x}-{self._ids}"

    # long: one journey is one script of random draws; read top to bottom it shows the
    # funnel it models, and its draw order is what makes a seed's stream repeatable.
    def _plan(self) -> _Journey:
        rng = self.rng
        customer = (
            rng.choice(self._pool) if rng.random() < 0.3 else f"cust-{rng.getrandbits(48):012x}"
        )
        analytics = rng.random() > 0.08
        consent = {"analytics": analytics, "marketing": analytics and rng.random() < 0.6}
        account = self._account_for(customer) if rng.random() < 0.12 else None
        channel = _weighted(rng, ENTRY_CHANNELS)
        base: dict[str, Any] = {"schema_version": 1, "customer_id": customer, "consent": consent}
        if account:
            base["account_id"] = account
        steps: list[Step] = []

        def add(wait: float, event_type: str, touchpoint: str, ch: str, **extra: Any) -> None:
            event = {
                **base,
                "event_id": self._event_id(),
                "event_type": event_type,
                "channel": ch,
                "touchpoint": touchpoint,
                **extra,
            }
            if ch == "web":  # the snippet sends the browser's agent
                event["user_agent"] = self._bots.browser()
            steps.append((wait, event))

        first = (
            STORES[rng.randrange(len(STORES))]
            if channel == "store"
            else rng.choice(("home", "home", "category", "product", "search"))
        )
        campaign = (
            {"campaign": f"spring-{rng.randint(1, 5)}"} if channel in ("social", "email") else {}
        )
        add(0, "page_view", first, channel, referrer="https://example.org/", **campaign)
        if rng.random() < 0.35:  # a bounce: maybe one heartbeat, then gone
            if channel == "web" and rng.random() < 0.4:
                add(15, "page_ping", first, channel)
            return self._finish(customer, steps, base)
        pages = rng.choice((("category", "product"), ("search", "product"), ("product",)))
        for page in pages:
            add(rng.uniform(3, 25), "page_view", page, channel)
            if channel == "web" and rng.random() < 0.3:
                add(15, "page_ping", page, channel)
            if rng.random() < 0.5:
                add(
                    rng.uniform(1, 10), "interaction", page, channel, action=rng.choice(ACTIONS[:3])
                )
        if rng.random() < 0.5:
            add(rng.uniform(2, 12), "interaction", "product", channel, action="add_to_cart")
            add(rng.uniform(2, 12), "page_view", "cart", channel)
            buy_channel = channel
            if rng.random() < 0.15:  # continues in another channel: web to store, app to web…
                buy_channel = rng.choice(("store", "app", "web"))
            if rng.random() < 0.65:
                touch = STORES[0] if buy_channel == "store" else "checkout"
                add(rng.uniform(3, 15), "page_view", touch, buy_channel)
                if rng.random() < 0.7:
                    add(
                        rng.uniform(5, 30),
                        "order",
                        touch,
                        buy_channel,
                        order_id=f"ord-{rng.getrandbits(40):010x}",
                        revenue=f"{rng.uniform(9, 300):.2f}",
                        currency=_weighted(rng, CURRENCIES),
                    )
                    if rng.random() < 0.3:
                        add(rng.uniform(5, 20), "feedback", "survey", "email", **self._feedback())
        elif rng.random() < 0.1:
            add(rng.uniform(2, 10), "interaction", "support", channel, action="support_chat")
            add(rng.uniform(10, 60), "feedback", "support", channel, **self._feedback())
        return self._finish(customer, steps, base)

    def _finish(self, customer: str, steps: list[Step], base: dict[str, Any]) -> _Journey:
        add_vitals(side_rng(steps), steps)  # load times of web visits, from draws of their own
        add_experiment(side_rng(steps, "experiment"), steps)  # the checkout-button test
        logged_in = add_login(identity_rng(steps), steps, self.login_share)
        add_support(side_rng(steps, "support"), steps)  # contacts, tickets: draws of their own
        rng = self.rng
        # Not after a login: a withdrawal racing the hand-over is settled by arrival order,
        # and the generated streams are compared with the reference (docs/identity.md).
        if rng.random() < 0.01 and not logged_in:
            withdrawal = {
                **base,
                "consent": {"analytics": False, "marketing": False},
                "event_id": self._event_id(),
                "event_type": "consent",
                "channel": "web",
                "touchpoint": "consent_banner",
            }
            steps.append((rng.uniform(2, 10), withdrawal))
        if rng.random() < self.malformed_share * len(steps):
            steps.insert(rng.randrange(len(steps) + 1), (1, self._malformed(customer)))
        return _Journey(customer, steps)

    def _account_for(self, customer: str) -> str:
        if customer not in self._members:
            self._members[customer] = self.rng.choice(self._accounts)
        return self._members[customer]

    def _feedback(self) -> dict[str, Any]:
        rng = self.rng
        answer: dict[str, Any] = {
            "nps": rng.choices(range(11), weights=[2, 1, 1, 2, 2, 3, 5, 8, 12, 14, 10])[0]
        }
        if rng.random() < 0.6:
            answer["csat"] = rng.choices(range(1, 6), weights=[1, 2, 4, 8, 6])[0]
        if rng.random() < 0.4:
            answer["ces"] = rng.randint(1, 7)
        if rng.random() < 0.5:
            language = rng.choice(("de", "en"))
            answer["comment"] = rng.choice(self._comments[language])
            answer["language"] = language
        return answer

    def _malformed(self, customer: str) -> bytes:
        kind = self.rng.randrange(4)
        if kind == 0:
            return b'{"schema_version": 1, "event_type": "page_view", "customer_id": '  # cut off
        if kind == 1:
            return orjson.dumps(
                {"schema_version": 1, "event_type": "page_view", "customer_id": customer}
            )
        if kind == 2:
            return b"\xff\xfe not utf-8"
        return orjson.dumps(
            {
                "schema_version": 1,
                "event_id": self._event_id(),
                "event_type": "teleport",
                "customer_id": customer,
                "occurred_at": "yesterday",
                "channel": "web",
                "touchpoint": "Home Page!",
                "consent": {"analytics": True, "marketing": False},
            }
        )
