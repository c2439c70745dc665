"""Stable codes for the enumerations that outlive a process: state rows and internal records.

Customer and account state in the changelog, and account activities on the
internal topic, are read back by later versions of the tracker. They store
each enumerated value by the code below, never by its position in a tuple
that someone may reorder (``CHANNELS`` orders the exported label values;
``SOURCES`` reads like a list). Each code equals the position the value had
when these tables were introduced, so rows written before then decode
unchanged.

A code, once given, is never changed or reused: a new value gets the next
free code. ``tests/unit/test_persisted_codes.py`` pins every table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

CHANNEL_CODES: Final[Mapping[str, int]] = MappingProxyType(
    {
        "web": 0,
        "app": 1,
        "social": 2,
        "store": 3,
        "email": 4,
        "call_center": 5,
        "partner": 6,
    }
)
# How a session was reached (customer.SOURCES).
SOURCE_CODES: Final[Mapping[str, int]] = MappingProxyType(
    {"unattributed": 0, "direct": 1, "referral": 2, "campaign": 3}
)
# What a recorded session step was (customer.STEP_KINDS).
STEP_KIND_CODES: Final[Mapping[str, int]] = MappingProxyType(
    {"page_view": 0, "interaction": 1, "order": 2, "feedback": 3}
)
# Event types of events held or forwarded by identity stitching (tracker.core.identity_records).
EVENT_TYPE_CODES: Final[Mapping[str, int]] = MappingProxyType(
    {
        "page_view": 0,
        "interaction": 1,
        "page_ping": 2,
        "order": 3,
        "consent": 4,
        "feedback": 5,
        "identify": 6,
        "web_vital": 7,
        "support_contact": 8,
        "support_reply": 9,
        "support_resolved": 10,
    }
)
# Kinds of records on the internal identity topic (docs/identity.md#internal-topic).
IDENTITY_RECORD_CODES: Final[Mapping[str, int]] = MappingProxyType(
    {"claim": 1, "reply": 2, "forward": 3, "unlink": 4}
)
# What became of a claim, as its reply tells the customer's partition.
LINK_OUTCOME_CODES: Final[Mapping[str, int]] = MappingProxyType(
    {"linked": 0, "already": 1, "conflict": 2, "no_consent": 3}
)
# What a forward record carries: an event, a withdrawal, an erasure request.
FORWARD_KIND_CODES: Final[Mapping[str, int]] = MappingProxyType(
    {"event": 0, "withdrawal": 1, "erase": 2}
)
# Web vitals of held or forwarded events (contract.VITAL_NAMES).
VITAL_NAME_CODES: Final[Mapping[str, int]] = MappingProxyType(
    {"LCP": 0, "INP": 1, "CLS": 2, "FCP": 3, "TTFB": 4}
)
# A session's LCP class (contract.VITAL_RATINGS), kept with the open session.
VITAL_RATING_CODES: Final[Mapping[str, int]] = MappingProxyType(
    {"good": 0, "needs-improvement": 1, "poor": 2}
)
# Support channels of tickets and of sessions' contacts (contract.SUPPORT_CHANNELS).
SUPPORT_CHANNEL_CODES: Final[Mapping[str, int]] = MappingProxyType(
    {"chat": 0, "phone": 1, "email": 2, "social": 3}
)

# Metric names of counter keys in stored deltas and counter rows (tracker.core.counter_codes).
COUNTER_NAME_CODES: Final[Mapping[str, int]] = MappingProxyType(
    {
        "tracker_events_received_total": 0,
        "tracker_events_total": 1,
        "tracker_events_dropped_total": 2,
        "tracker_events_rejected_total": 3,
        "tracker_events_late_total": 4,
        "tracker_events_forwarded_total": 5,
        "tracker_events_rerouted_total": 6,
        "tracker_sessions_started_total": 7,
        "tracker_sessions_closed_total": 8,
        "tracker_sessions_bounced_total": 9,
        "tracker_sessions_engaged_total": 10,
        "tracker_sessions_interacted_total": 11,
        "tracker_sessions_converted_total": 12,
        "tracker_sessions_merged_total": 13,
        "tracker_sessions_discarded_total": 14,
        "tracker_sessions_multichannel_total": 15,
        "tracker_sessions_rescued_total": 16,
        "tracker_sessions_by_source_total": 17,
        "tracker_sessions_converted_by_source_total": 18,
        "tracker_sessions_closed_by_lcp_total": 19,
        "tracker_sessions_converted_by_lcp_total": 20,
        "tracker_sessions_with_support_total": 21,
        "tracker_session_exits_total": 22,
        "tracker_funnel_sessions_total": 23,
        "tracker_journey_transitions_total": 24,
        "tracker_interactions_total": 25,
        "tracker_orders_total": 26,
        "tracker_conversions_last_channel_total": 27,
        "tracker_nps_responses_total": 28,
        "tracker_csat_responses_total": 29,
        "tracker_ces_responses_total": 30,
        "tracker_feedback_sentiment_total": 31,
        "tracker_feedback_sentiment_score": 32,
        "tracker_feedback_sentiment_score_milli": 33,
        "tracker_web_vital": 34,
        "tracker_web_vital_micros": 35,
        "tracker_consent_withdrawals_total": 36,
        "tracker_erasures_total": 37,
        "tracker_bot_events_total": 38,
        "tracker_hot_customers_total": 39,
        "tracker_control_ignored_total": 40,
        "tracker_identity_links_total": 41,
        "tracker_identity_conflicts_total": 42,
        "tracker_identity_records_invalid_total": 43,
        "tracker_account_activity_invalid_total": 44,
        "tracker_account_first_order_channels_total": 45,
        "tracker_customer_lapses_total": 46,
        "tracker_customer_win_backs_total": 47,
        "tracker_customers_lapsed": 48,
        "tracker_experiment_sessions_total": 49,
        "tracker_experiment_conversions_total": 50,
        "tracker_support_contacts_total": 51,
        "tracker_support_csat_responses_total": 52,
        "tracker_support_ces_responses_total": 53,
        "tracker_support_first_response_seconds": 54,
        "tracker_support_first_response_seconds_ms": 55,
        "tracker_support_resolution_seconds": 56,
        "tracker_support_resolution_seconds_ms": 57,
        "tracker_support_tickets_open": 58,
        "tracker_support_tickets_opened_total": 59,
        "tracker_support_tickets_reopened_total": 60,
        "tracker_support_tickets_resolved_total": 61,
        "tracker_support_tickets_expired_total": 62,
    }
)


class CodeTable:
    """Translates a value's position in ``names`` (how the code holds it) to its code and back.

    ``names`` is the in-memory order; every name needs a code, so a value added
    without one fails at import rather than when its first row is written.
    """

    def __init__(self, what: str, names: Iterable[str], codes: Mapping[str, int]) -> None:
        self.names = tuple(names)
        missing = [name for name in self.names if name not in codes]
        if missing:
            raise ValueError(f"{what} values without a stable code: {missing}")
        self.to_code: tuple[int, ...] = tuple(codes[name] for name in self.names)
        # A plain dict: the hot decode path indexes it per step. ``position`` names a bad code.
        self.from_code: dict[int, int] = {code: i for i, code in enumerate(self.to_code)}
        self.what = what
        # Today every code equals the position, and bit sets pass through untouched.
        self._identity = self.to_code == tuple(range(len(self.names)))

    def position(self, code: int) -> int:
        try:
            return self.from_code[code]
        except KeyError:
            raise ValueError(
                f"unknown {self.what} code {code!r} (written by a newer version?)"
            ) from None

    def bits_to_codes(self, bits: int) -> int:
        """A bit set of positions as the bit set of the same values' codes."""
        if self._identity:
            return bits
        out = 0
        for position, code in enumerate(self.to_code):
            if bits >> position & 1:
                out |= 1 << code
        return out

    def bits_from_codes(self, bits: int) -> int:
        """A bit set of codes as the bit set of the same values' positions."""
        if self._identity:
            return bits
        out = 0
        code = 0
        while bits >> code:
            if bits >> code & 1:
                out |= 1 << self.position(code)
            code += 1
        return out
