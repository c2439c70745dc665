"""Feedback answers and comment sentiment (docs/metrics.md#feedback, #sentiment): pure.

Comments are scored in memory and never stored: an event held in state or
forwarded to another partition carries its score instead (``EventView.score``).
"""

from __future__ import annotations

from typing import Literal, Protocol

from tracker.core.aggregates import Delta, counter_key
from tracker.core.contract import CHANNELS
from tracker.core.events import EventView
from tracker.core.histogram import minute_of
from tracker.core.labels import nps_category

SENTIMENT_BUCKETS = (-0.75, -0.5, -0.25, -0.05, 0.05, 0.25, 0.5, 0.75, 1.0)


class Score(Protocol):
    @property
    def compound(self) -> float: ...
    @property
    def polarity(self) -> str: ...


class Scorer(Protocol):
    def score(self, text: str, language: Literal["de", "en"]) -> Score: ...


def count_feedback(scorer: Scorer | None, ev: EventView, delta: Delta) -> None:
    """NPS, CSAT, CES and comment sentiment of a counted feedback event (docs/metrics.md)."""
    channel = CHANNELS[ev.channel]
    minute = minute_of(ev.at_ms)
    if ev.nps is not None:
        category = nps_category(ev.nps)
        delta.count(counter_key("tracker_nps_responses_total", category, channel))
        delta.bucket("fb:nps_responses", minute, 1)
        if category != "passive":
            delta.bucket(f"fb:nps_{category}s", minute, 1)
    if ev.csat is not None:
        delta.count(counter_key("tracker_csat_responses_total", str(ev.csat), channel))
        delta.bucket("fb:csat_responses", minute, 1)
        if ev.csat >= 4:
            delta.bucket("fb:csat_satisfied", minute, 1)
    if ev.ces is not None:
        delta.count(counter_key("tracker_ces_responses_total", str(ev.ces), channel))
        delta.bucket("fb:ces_responses", minute, 1)
        delta.bucket("fb:ces_sum", minute, ev.ces)
    score = sentiment_of(scorer, ev)
    if score is not None and ev.language is not None:
        delta.count(
            counter_key("tracker_feedback_sentiment_total", score.polarity, ev.language, channel)
        )
        bucket = next((b for b in SENTIMENT_BUCKETS if score.compound <= b), 1.0)
        delta.count(counter_key("tracker_feedback_sentiment_score", ev.language, str(bucket)))
        milli = round(score.compound * 1000)
        delta.count(counter_key("tracker_feedback_sentiment_score_milli", ev.language), milli)
        delta.bucket(f"fb:sentiment_{score.polarity}", minute, 1)


def sentiment_of(scorer: Scorer | None, ev: EventView) -> Score | None:
    """The comment's score: carried by a held or forwarded event, else computed here."""
    if ev.score is not None:
        return ev.score
    if ev.comment and ev.language in ("de", "en") and scorer is not None:
        return scorer.score(ev.comment, ev.language)  # type: ignore[arg-type]
    return None
