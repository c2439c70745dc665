"""Traffic source: campaign and referrer are used only with marketing consent."""

from __future__ import annotations

from tests.unit.helpers import MIN, Harness, ev
from tracker.metrics.samples import total

MARKETING = {"analytics": True, "marketing": True}


def _sources(h: Harness) -> dict[str, float]:
    s = h.samples()
    return {
        source: total(s, "tracker_sessions_by_source_total", source=source)
        for source in ("campaign", "referral", "direct", "unattributed")
    }


def test_campaign_and_referrer_count_only_with_marketing_consent() -> None:
    h = Harness()
    h.send(ev("page_view", "a", 0, consent=MARKETING, campaign="spring", referrer="https://x"))
    h.send(ev("page_view", "b", 0, consent=MARKETING, referrer="https://news.example"))
    h.send(ev("page_view", "c", 0, consent=MARKETING))
    h.send(ev("page_view", "d", 0, campaign="spring", referrer="https://x"))  # no marketing
    h.close_all()
    assert _sources(h) == {"campaign": 1, "referral": 1, "direct": 1, "unattributed": 1}


def test_source_comes_from_the_sessions_first_event_and_converted_by_source() -> None:
    h = Harness()
    h.send(ev("page_view", "a", 2 * MIN, consent=MARKETING))
    h.send(ev("page_view", "a", 1 * MIN, consent=MARKETING, campaign="mail-7"))  # earlier
    h.send(ev("order", "a", 3 * MIN, consent=MARKETING))
    h.close_all()
    s = h.samples()
    assert _sources(h)["campaign"] == 1
    assert total(s, "tracker_sessions_converted_by_source_total", source="campaign") == 1
