"""What a partition knows about its customer rows without reading them.

For each row: when its open session ends (to close it as the watermark passes), its
entry channel (for ``tracker_sessions_active``) and the day its state expires. Kept
up to date by ``PartitionProcessor.store_row`` and rebuilt on recovery.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

from tracker.core.customer import CustomerState
from tracker.core.deadlines import DeadlineIndex
from tracker.core.experience import next_due
from tracker.core.rows import NO_INDEX, IndexInfo, discard
from tracker.core.state_store import DAY_MS


@dataclass(slots=True)
class RowIndex:
    gap_ms: int
    max_session_ms: int
    retention_ms: int
    letter_retention_ms: int
    deadlines: DeadlineIndex = field(default_factory=DeadlineIndex)  # open sessions' ends
    active_sessions: dict[int, int] = field(default_factory=dict)  # entry channel -> open
    expiries: dict[int, set[str]] = field(default_factory=dict)  # day -> customers
    held_events: int = 0  # events the rows hold back for pending hand-overs

    def info(self, state: CustomerState | None) -> IndexInfo:
        if state is None or state.is_empty():
            return NO_INDEX
        session = state.session
        deadline = entry = None
        held = 0
        if session is not None:
            deadline = session.deadline_ms(self.gap_ms, self.max_session_ms)
            entry = session.entry_channel
        identity = state.identity
        if identity is not None:
            held = len(identity.held)
            # Held events and waiting claims are settled when the watermark reaches their time.
            for due in (identity.hold_until_ms, identity.waiting_until()):
                if due is not None and due >= 0:
                    deadline = due if deadline is None else min(deadline, due)
        r = state.retention
        if state.tickets or (r is not None and r.due_ms >= 0):  # a ticket's end, a lapse
            due = next_due(state)
            if due is not None:
                deadline = due if deadline is None else min(deadline, due)
        if state.withdrawn:
            expiry = state.withdrawn_until_ms
        else:
            active = state.last_activity_ms()
            expiry = active + self.retention_ms if active >= 0 else -1
            if state.letters:  # a row kept for its dead letters goes when the DLQ forgets them
                expiry = max(expiry, state.last_letter_ms + self.letter_retention_ms)
        return IndexInfo(deadline, entry, expiry, held)

    def move(self, key: str, before: IndexInfo, after: IndexInfo) -> None:
        self.deadlines.move(key, before.deadline, after.deadline)
        self.held_events += after.held - before.held
        active = self.active_sessions
        if before.entry != after.entry:
            if before.entry is not None:
                active[before.entry] -= 1
            if after.entry is not None:
                active[after.entry] = active.get(after.entry, 0) + 1
        if before.expiry != after.expiry:
            if before.expiry is not None:
                discard(self.expiries, before.expiry // DAY_MS, key)
            if after.expiry is not None:
                self.expiries.setdefault(after.expiry // DAY_MS, set()).add(key)

    def expiring(self, watermark_ms: int, budget: int) -> Iterator[tuple[int, str]]:
        """(day, key) of rows whose expiry day the watermark reached, at most ``budget``."""
        for day in sorted(d for d in self.expiries if d <= watermark_ms // DAY_MS):
            for key in list(islice(self.expiries.get(day, ()), budget)):
                yield day, key
                budget -= 1
            if budget <= 0:
                return

    def forget_expiry(self, day: int, key: str) -> None:
        discard(self.expiries, day, key)
