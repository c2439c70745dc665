"""What a customer row holds for identity stitching, and its compact codec.

Most rows hold nothing of it (``CustomerState.identity`` is None). A known
customer holds its links to anonymous ids and the events it holds back while
a link is pending; a linked anonymous id is a *stub* that names its customer;
every row that sent or received identity records keeps what makes those
exact through crashes: the records it sent and Kafka has not acknowledged
(``out``, sent again after a restart) and the highest origin it applied from
each source (``applied``, so a record sent twice is applied once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Position of the identify's time in an encoded claim (identity_records.encode_record).
CLAIM_AT = 9
PENDING = 0  # the claim is sent; no reply yet
LINKED = 1  # the anonymous id's state was handed over (or was linked before)


@dataclass(slots=True)
class Link:
    anon: str  # the anonymous id's pseudonym
    partition: int  # its input partition
    claim: int  # the identify's hash: names this link in records
    status: int  # PENDING or LINKED
    at_ms: int  # when the identify happened


@dataclass(slots=True)
class Outgoing:
    """A record this row sent: kept until Kafka acknowledged it, sent again on recovery."""

    seq: int  # the partition's send order (re-sends keep it)
    stream: int  # origin stream and offset: acknowledged once the wiring says so
    offset: int
    partition: int  # target partition and row
    key: str
    record: list[Any]

    def encode(self) -> list[Any]:
        return [self.seq, self.stream, self.offset, self.partition, self.key, self.record]


@dataclass(slots=True)
class IdentityState:
    linked_to: str | None = None  # a stub: the customer this anonymous id is linked to
    linked_partition: int = -1
    claim: int = 0  # the stub's link
    links: list[Link] = field(default_factory=list)  # a customer: its anonymous ids
    held: list[list[Any]] = field(default_factory=list)  # encoded events held back
    hold_until_ms: int = -1  # >= 0: holding until the watermark reaches it
    applied: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    out: list[Outgoing] = field(default_factory=list)
    last_ms: int = -1  # link time, last forward: a stub lives as long as it is used
    # An anonymous id: claims waiting until its partition's watermark reaches their identify
    # (encoded records), so its own earlier events are applied first (docs/identity.md).
    waiting: list[list[Any]] = field(default_factory=list)
    # A stub: the (start, last) event times of the device's own session as events forwarded
    # since the link extend it; an event outside it starts a session of the device's own
    # (``identity.device_session``), whichever side of the claim it reached first.
    own_session: tuple[int, int] | None = None
    # A customer: its pings and vitals that found no session (encoded events), kept for a
    # linked device's late page (tracker.core.identity_orphans).
    orphans: list[list[Any]] = field(default_factory=list)
    # A customer: the claims of links whose hand-over found no open session of the
    # customer's, so its held events formed the session that followed (CustomerContext._apart).
    alone: list[int] = field(default_factory=list)

    def is_empty(self) -> bool:
        # ``applied`` alone keeps a row: dropping it would let a record sent again count twice.
        return (
            self.linked_to is None
            and not self.links
            and not self.held
            and not self.out
            and not self.applied
            and not self.waiting
        )

    def pending(self) -> list[Link]:
        return [link for link in self.links if link.status == PENDING]

    def link_for(self, claim: int) -> Link | None:
        return next((link for link in self.links if link.claim == claim), None)

    def holding(self) -> bool:
        return self.hold_until_ms >= 0

    def waiting_until(self) -> int | None:
        """The event time the first waiting claim waits for (the watermark must reach it)."""
        return int(self.waiting[0][CLAIM_AT]) if self.waiting else None

    def after_erasure(self) -> IdentityState | None:
        """What an erased row keeps: the bookkeeping that keeps records exact, and claims
        still waiting (they are answered, as no_consent, when their time comes)."""
        kept = IdentityState(applied=dict(self.applied), out=list(self.out))
        kept.waiting = list(self.waiting)
        return None if kept.is_empty() else kept


def encode_identity(state: IdentityState) -> list[Any]:
    data: list[Any] = [
        state.linked_to,
        state.linked_partition,
        state.claim,
        [[x.anon, x.partition, x.claim, x.status, x.at_ms] for x in state.links],
        state.held,
        state.hold_until_ms,
        [[p, s, o, i] for (p, s), (o, i) in state.applied.items()],
        [x.encode() for x in state.out],
        state.last_ms,
        state.waiting,
    ]
    # Newer fields at the end and only when set: rows without them encode as before, and an
    # older version reads the rest (it ignores what follows ``waiting``).
    newer: list[Any] = [
        None if state.own_session is None else list(state.own_session),
        state.orphans,
        state.alone,
    ]
    while newer and not newer[-1]:
        newer.pop()
    return data + newer


def decode_identity(data: list[Any]) -> IdentityState:
    linked_to, partition, claim, links, held, hold_until, applied, out, last_ms = data[:9]
    return IdentityState(
        linked_to=linked_to,
        linked_partition=partition,
        claim=claim,
        links=[Link(*x) for x in links],
        held=[list(x) for x in held],
        hold_until_ms=hold_until,
        applied={(p, s): (o, i) for p, s, o, i in applied},
        out=[Outgoing(*x) for x in out],
        last_ms=last_ms,
        waiting=[list(x) for x in data[9]] if len(data) > 9 else [],
        own_session=_span(data[10]) if len(data) > 10 else None,
        orphans=[list(x) for x in data[11]] if len(data) > 11 else [],
        alone=[int(x) for x in data[12]] if len(data) > 12 else [],
    )


def _span(data: Any) -> tuple[int, int] | None:
    return None if data is None else (int(data[0]), int(data[1]))


def sorted_out(entries: Iterable[Outgoing]) -> list[Outgoing]:
    return sorted(entries, key=lambda x: x.seq)
