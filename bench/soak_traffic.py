"""The soak's traffic: a fixed population of customers who rest between visits.

A memory soak asks whether a worker's memory levels off once the state it must hold
has. With the generator's own ids it never does: most journeys are new customers, and
each is a row kept for its retention. Mapped onto a fixed population by hash (what the
soak did first), every customer sent every few seconds, so their sessions never
closed within the hour and their rows grew towards the per-session caps: growth by
design of the traffic, not of the tracker.

Here each planned journey is given to a member of the population who is at rest: its
last visit ended more than ``rest_ms`` ago, long enough for that session to close
(the soak runs the worker with a short session gap, so the population stays small
enough to be seen within minutes). Member ``k`` always has the same ids: person
``cust-k``, device ``anon-k`` (a login links the same pair every time), bot ``bot-k``
and account ``acct-{k % 40}``, and always makes journeys of the same shape (one who
logs in always does, a bot stays a bot), so the rows it has, its identity links and
account memberships stop changing once the population has been seen. The population
grows only while no member of a journey's shape is at rest.

Journeys are started to keep ``rate`` events/s counted at planning time (bots
included), so a consumer of ``due`` delivers the rate it asks once the first journeys
have run their course. A member who withdrew consent grants it again at its next
consented visit (``RestedPopulation._regrant``).

What a rest does not cover: a journey's steps after its first pause longer than a rest
(support's replies, ratings and reopenings, minutes to days later) still arrive, under
the member's ids, while it may be visiting again; they join that visit's session as a
real customer's would.

The clock is passed in: the live soak passes the wall clock, the in-process replay
(``bench.soak_growth``) event time.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Any

from tracker.testing.experience_traffic import Step
from tracker.testing.traffic import TrafficGenerator

ID_FIELDS = ("customer_id", "anonymous_id")
ACCOUNTS = 40  # the generator's own number of B2B accounts
SEED = 3


@dataclass
class RestedPopulation:
    """``TrafficGenerator``'s ``recast``: each journey to a member at rest."""

    rest_ms: int
    members: int = 0  # the population: members ever handed a journey
    regrants: int = 0  # consent grants sent by members coming back after a withdrawal
    # Members at rest by the kinds of ids their journeys carry: a member who logs in
    # always does, a bot stays a bot, so the rows each member has stop changing.
    _resting: dict[frozenset[str], list[tuple[int, int]]] = field(default_factory=dict)
    _withdrawn: set[int] = field(default_factory=set)

    def __call__(self, customer: str, steps: list[Step], start_ms: int) -> str:
        events = [event for _, event in steps if isinstance(event, dict)]
        resting = self._resting.setdefault(_shape(customer, events), [])
        if resting and resting[0][0] <= start_ms:
            member = heapq.heappop(resting)[1]
        else:
            member = self.members
            self.members += 1
        self._regrant(member, steps)
        names: dict[str, str] = {}
        for _, event in steps:
            if isinstance(event, dict):
                _rename(event, member, names)
        if any(_withdraws(event) for event in events):
            self._withdrawn.add(member)
        heapq.heappush(resting, (start_ms + _visit_ms(steps, self.rest_ms) + self.rest_ms, member))
        return _name(customer, member, names)

    def _regrant(self, member: int, steps: list[Step]) -> None:
        """A member who withdrew consent accepts the banner again when next it comes with
        consent: without it the tracker drops all its events for 90 days, and a soak
        would count ever fewer customers as the hour goes on."""
        first = steps[0][1] if steps else None
        if member not in self._withdrawn or not isinstance(first, dict):
            return
        if not first["consent"]["analytics"]:
            return
        self._withdrawn.discard(member)
        self.regrants += 1
        shared = ("schema_version", "customer_id", "consent", "account_id", "channel", "user_agent")
        grant: dict[str, Any] = {key: first[key] for key in shared if key in first}
        grant.update(
            event_id=f"soak-regrant-{self.regrants}",
            event_type="consent",
            touchpoint="consent_banner",
        )
        steps.insert(0, (0.0, grant))


def _withdraws(event: dict[str, Any]) -> bool:
    return event["event_type"] == "consent" and not event["consent"]["analytics"]


def _kind(original: str) -> str:
    return original.split("-", 1)[0]


def _shape(customer: str, events: list[dict[str, Any]]) -> frozenset[str]:
    """The kinds of ids a journey carries (``cust``, ``anon``, ``bot``; ``acct``)."""
    kinds = {_kind(customer)}
    for event in events:
        kinds.update(_kind(event[key]) for key in ID_FIELDS if key in event)
        if "account_id" in event:
            kinds.add("acct")
    return frozenset(kinds)


def _visit_ms(steps: list[Step], rest_ms: int) -> int:
    """The journey's visit: up to its first pause longer than a rest. Support's replies
    and resolutions come hours or days later; the customer may visit again meanwhile."""
    visit = 0
    for wait, _ in steps:
        if wait * 1000 > rest_ms:
            break
        visit += int(wait * 1000)
    return visit


def _rename(event: dict[str, Any], member: int, names: dict[str, str]) -> None:
    for key in ID_FIELDS:
        if key in event:
            event[key] = _name(event[key], member, names)
    if "account_id" in event:
        event["account_id"] = f"acct-{member % ACCOUNTS:02d}"


def _name(original: str, member: int, names: dict[str, str]) -> str:
    """The member's id of the generator's kind (``cust``, ``anon``, ``bot``...)."""
    if original not in names:
        names[original] = f"{_kind(original)}-{member:07d}"
    return names[original]


@dataclass(frozen=True, slots=True)
class SoakMessage:
    key: bytes
    value: bytes
    timestamp_ms: int
    events: int


class SoakTraffic:
    """``rate`` events/s from a ``RestedPopulation``, on whatever clock ``due`` is given."""

    def __init__(self, rate: float, rest_ms: int, seed: int = SEED) -> None:
        self.rate = rate
        self.population = RestedPopulation(rest_ms)
        self.generator = TrafficGenerator(random.Random(seed), recast=self.population)
        self._started_ms: int | None = None

    def due(self, now_ms: int) -> list[SoakMessage]:
        """Journeys started up to the rate, then the messages due by ``now_ms``."""
        if self._started_ms is None:
            self._started_ms = now_ms
        self.generator.keep_up(self.rate * (now_ms - self._started_ms) / 1000, now_ms)
        return [
            SoakMessage(m.key, m.value, m.timestamp_ms, m.events)
            for m in self.generator.due(now_ms, max_batch=10)
            if m.key is not None  # always set by the generator; the type allows None
        ]
