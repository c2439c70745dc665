"""B2B accounts: the second keyed stage, re-partitioned by account.

Customers decide the input partition, so one company's people may live on
different workers. Stage one therefore emits an ``AccountActivity`` for every
counted event that carries an ``account_id`` to an internal topic keyed by
the (pseudonymous) account; this stage owns each account on exactly one
partition, so account counts add up exactly across workers — the design
Kafka Streams uses for a re-keyed aggregation. The activities one input
message produces for one account travel as one record (``pack``): a
collector batch of a hundred events then costs one produce, one consume and
one state write here instead of a hundred.

Every update here is idempotent (maxima and set unions), because stage one
may emit an activity twice after a crash.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from tracker.core.aggregates import COUNTER_ROW, Aggregates, Delta, counter_key
from tracker.core.customer import CHANNEL_TABLE
from tracker.core.histogram import minute_of
from tracker.core.state_store import DAY_MS, StateStore, end_epoch

PEOPLE_BUCKETS = (1, 2, 3, 5, 10, 20, 50)
PEOPLE_WINDOW_MS = 28 * DAY_MS  # people count toward an account for the longest reach window
# Accounts one person's row remembers acting for (so an erasure reaches all of them); a
# person acting for more at once leaves the one of their oldest activity.
MAX_ACCOUNTS_PER_PERSON = 16


@dataclass(frozen=True, slots=True, init=False)
class AccountActivity:
    account: str  # pseudonym of the account id
    person: str  # pseudonym of the customer id
    at_ms: int
    channel: int  # index into CHANNELS; records carry its stable code
    order: bool = False
    erase: bool = False  # the person withdrew or was erased: forget them here too

    # Written out, not generated: mypyc compiles it, the generated one stays interpreted.
    def __init__(
        self,
        account: str,
        person: str,
        at_ms: int,
        channel: int,
        order: bool = False,
        erase: bool = False,
    ) -> None:
        object.__setattr__(self, "account", account)
        object.__setattr__(self, "person", person)
        object.__setattr__(self, "at_ms", at_ms)
        object.__setattr__(self, "channel", channel)
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "erase", erase)

    def to_json(self) -> list[Any]:
        channel = CHANNEL_TABLE.to_code[self.channel]
        return [self.account, self.person, self.at_ms, channel, self.order, self.erase]

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.to_json())

    @classmethod
    def from_json(cls, data: list[Any]) -> AccountActivity:
        account, person, at_ms, channel, order, erase = data
        position = CHANNEL_TABLE.position(int(channel))
        return cls(str(account), str(person), int(at_ms), position, bool(order), bool(erase))

    @classmethod
    def from_bytes(cls, raw: bytes) -> AccountActivity:
        return cls.from_json(orjson.loads(raw))


def pack(outbox: Iterable[AccountActivity]) -> list[tuple[str, bytes]]:
    """One record per account, its activities in the order they happened.

    Accounts are independent of each other, so only the order within an account matters
    (an erase must follow the visits it erases); that order is kept.
    """
    grouped: dict[str, list[list[Any]]] = {}
    for activity in outbox:
        grouped.setdefault(activity.account, []).append(activity.to_json())
    return [(account, orjson.dumps(items)) for account, items in grouped.items()]


def unpack(raw: bytes) -> list[AccountActivity]:
    """The activities of one record: a packed list, or a single activity as written before."""
    data = orjson.loads(raw)
    if not isinstance(data, list) or not data:
        raise ValueError("an account activity record is a non-empty JSON array")
    if isinstance(data[0], list):
        return [AccountActivity.from_json(item) for item in data]
    return [AccountActivity.from_json(data)]  # records of versions before packing


@dataclass(slots=True)
class AccountState:
    people: dict[str, int] = field(default_factory=dict)  # person -> last seen
    last_seen_ms: int = -1
    last_order_ms: int = -1
    first_order_ms: int = -1
    channels: int = 0  # channels touched up to the first order (bits by index into CHANNELS)

    def encode(self) -> list[Any]:
        return [
            self.people,
            self.last_seen_ms,
            self.last_order_ms,
            self.first_order_ms,
            CHANNEL_TABLE.bits_to_codes(self.channels),
        ]

    @classmethod
    def decode(cls, data: list[Any]) -> AccountState:
        people, last_seen, last_order, first_order, channels = data
        bits = CHANNEL_TABLE.bits_from_codes(channels)
        return cls(dict(people), last_seen, last_order, first_order, bits)


def people_bucket(count: int) -> str:
    for bound in PEOPLE_BUCKETS:
        if count <= bound:
            return str(bound)
    return "+Inf"


def apply_activity(state: AccountState, activity: AccountActivity, delta: Delta) -> None:
    """Fold one activity into the account (pure; idempotent for repeated activities)."""
    before_seen, before_people = state.last_seen_ms, _people_key(state)
    if activity.erase:
        state.people.pop(activity.person, None)
    else:
        if activity.at_ms > state.people.get(activity.person, -1):
            state.people[activity.person] = activity.at_ms
        state.last_seen_ms = max(state.last_seen_ms, activity.at_ms)
        delta.max_event_ms = max(delta.max_event_ms, activity.at_ms)
        if state.first_order_ms < 0:
            state.channels |= 1 << activity.channel
        if activity.order:
            _order(state, activity, delta)
    horizon = state.last_seen_ms - PEOPLE_WINDOW_MS
    state.people = {p: t for p, t in state.people.items() if t >= horizon}
    if state.last_seen_ms != before_seen:
        if before_seen >= 0:
            delta.bucket("acct:reach", minute_of(before_seen), -1)
        delta.bucket("acct:reach", minute_of(state.last_seen_ms), 1)
    after_people = _people_key(state)
    if (before_seen, before_people) != (state.last_seen_ms, after_people):
        if before_seen >= 0 and before_people is not None:
            delta.bucket(f"acct:people:{before_people}", minute_of(before_seen), -1)
        if after_people is not None:
            delta.bucket(f"acct:people:{after_people}", minute_of(state.last_seen_ms), 1)


def _people_key(state: AccountState) -> str | None:
    return people_bucket(len(state.people)) if state.people else None


def _order(state: AccountState, activity: AccountActivity, delta: Delta) -> None:
    if activity.at_ms > state.last_order_ms:
        if state.last_order_ms >= 0:
            delta.bucket("acct:order", minute_of(state.last_order_ms), -1)
        delta.bucket("acct:order", minute_of(activity.at_ms), 1)
        state.last_order_ms = activity.at_ms
    if state.first_order_ms < 0:
        state.first_order_ms = activity.at_ms
        channels = str(state.channels.bit_count())
        delta.count(counter_key("tracker_account_first_order_channels_total", channels))


@dataclass(slots=True)
class AccountProcessor:
    """One partition of the account stage; rows carry offset, epoch and delta like stage one."""

    partition: int
    store: StateStore
    max_out_of_order_ms: int = 10_000
    idle_timeout_ms: int = 60_000
    retention_ms: int = 29 * DAY_MS
    aggregates: Aggregates = field(default_factory=Aggregates)
    applied_offset: int = -1
    epoch: int = 0
    last_input_wall_ms: int | None = None
    _expiries: dict[int, set[str]] = field(default_factory=dict)
    _pending_delete: set[str] = field(default_factory=set)

    @property
    def watermark_ms(self) -> int:
        agg = self.aggregates
        if agg.max_event_ms == 0 and agg.idle_floor_ms == 0:
            return 0
        return max(agg.max_event_ms - self.max_out_of_order_ms, agg.idle_floor_ms)

    def _key(self, account: str) -> str:
        return f"{self.partition}/acct/{account}"

    def recover(self, now_ms: int) -> None:
        rows: list[tuple[str, dict[str, Any]]] = []
        prefix = f"{self.partition}/"
        for key, raw in self.store.items(prefix):
            rest = key[len(prefix) :]
            if rest.startswith("a/"):
                self.aggregates.load_row(rest[2:], raw)
                self.epoch = max(self.epoch, self.aggregates.row_epochs[rest[2:]])
            else:
                rows.append((key, orjson.loads(raw)))
        offset = self.aggregates.applied_offset
        for key, body in rows:
            epoch = int(body["e"])
            self.epoch = max(self.epoch, epoch)
            offset = max(offset, int(body["o"]))
            self.aggregates.apply(Delta.from_json(body["d"]), only_rows_before_epoch=epoch)
            if body.get("s") is not None:
                self._schedule(key, AccountState.decode(body["s"]))
        self.applied_offset = self.aggregates.applied_offset = offset
        if self.aggregates.max_event_ms:
            self.last_input_wall_ms = now_ms
        self.epoch += 1
        self.aggregates.dirty.update(self.aggregates.row_epochs)
        self.aggregates.dirty.add(COUNTER_ROW)
        self.flush()

    def process(self, value: bytes | None, offset: int, now_ms: int) -> None:
        self.last_input_wall_ms = now_ms
        if offset <= self.applied_offset:
            return
        self.applied_offset = self.aggregates.applied_offset = offset
        self.aggregates.dirty.add(COUNTER_ROW)
        try:
            batch = unpack(value or b"")
        except (orjson.JSONDecodeError, ValueError, TypeError):
            delta = Delta()
            delta.count(counter_key("tracker_account_activity_invalid_total"))
            self.aggregates.apply(delta)
            return  # only the tracker writes this internal topic; count, never crash
        rows: dict[str, tuple[AccountState, Delta]] = {}
        for activity in batch:
            key = self._key(activity.account)
            if key not in rows:
                rows[key] = self._load(key)
            state, stored = rows[key]
            delta = Delta()
            apply_activity(state, activity, delta)
            self.aggregates.apply(delta)
            stored.merge(delta)
        for key, (state, stored) in rows.items():
            self.store.put(
                key,
                orjson.dumps(
                    {"s": state.encode(), "o": offset, "e": self.epoch, "d": stored.to_json()}
                ),
            )
            self._schedule(key, state)

    def _load(self, key: str) -> tuple[AccountState, Delta]:
        """The account's state and the delta its row already carries for this epoch."""
        raw = self.store.get(key)
        body = orjson.loads(raw) if raw is not None else None
        state = (
            AccountState.decode(body["s"]) if body and body.get("s") is not None else AccountState()
        )
        stored = Delta.from_json(body["d"]) if body and int(body["e"]) == self.epoch else Delta()
        return state, stored

    def tick(self, now_ms: int) -> None:
        if (
            self.last_input_wall_ms is not None
            and now_ms - self.last_input_wall_ms >= self.idle_timeout_ms
        ):
            floor = now_ms - self.max_out_of_order_ms
            if floor > self.aggregates.idle_floor_ms:
                self.aggregates.idle_floor_ms = floor
                self.aggregates.dirty.add(COUNTER_ROW)
        wm = self.watermark_ms
        for day in sorted(d for d in self._expiries if d <= wm // DAY_MS):
            for key in self._expiries.pop(day):
                raw = self.store.get(key)
                if raw is None:
                    continue
                body = orjson.loads(raw)
                state = AccountState.decode(body["s"])
                if self._expiry(state) > wm:
                    self._schedule(key, state)
                elif int(body["e"]) < self.epoch:
                    self.store.delete(key)
                else:
                    self._pending_delete.add(key)

    def flush(self) -> None:
        rows = self.aggregates.take_dirty_rows(self.epoch)
        end_epoch(self.store, self.partition, rows, self._pending_delete)
        self.epoch += 1

    def _expiry(self, state: AccountState) -> int:
        return max(state.last_seen_ms, state.last_order_ms) + self.retention_ms

    def _schedule(self, key: str, state: AccountState) -> None:
        self._expiries.setdefault(self._expiry(state) // DAY_MS, set()).add(key)
