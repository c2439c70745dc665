"""Which differences from the reference the reliability scenarios accept: one shape, a few.

An out-of-order device page that restarts a session under another entry channel
counts started and merged once more under the channel it replaced
(``tracker.testing.streams.entry_changes``). Anything else stays a difference, and so
does that shape beyond ``at_most`` sessions.
"""

from __future__ import annotations

import pytest

from tracker.metrics.samples import Sample
from tracker.testing.fleet import Fleet
from tracker.testing.streams import differences, entry_changes, without_entry_changes

STARTED = "tracker_sessions_started_total{channel=%s}"
MERGED = "tracker_sessions_merged_total{channel=%s}"
REFERENCE = {STARTED % "web": 10.0, STARTED % "app": 4.0, MERGED % "web": 2.0}


def test_equal_excess_of_started_and_merged_in_one_channel_is_taken_out() -> None:
    got = {**REFERENCE, STARTED % "app": 5.0, MERGED % "app": 1.0, STARTED % "web": 11.0}
    got[MERGED % "web"] = 3.0
    assert entry_changes(got, REFERENCE) == {"{channel=app}": 1, "{channel=web}": 1}
    assert differences(without_entry_changes(got, REFERENCE, at_most=2), REFERENCE) == []
    assert got[STARTED % "app"] == 5.0, "the scrape itself is left as it was"


def test_more_than_at_most_sessions_are_all_left_as_differences() -> None:
    got = {**REFERENCE, STARTED % "app": 6.0, MERGED % "app": 2.0, STARTED % "web": 11.0}
    got[MERGED % "web"] = 3.0
    assert entry_changes(got, REFERENCE) == {"{channel=app}": 2, "{channel=web}": 1}
    left = without_entry_changes(got, REFERENCE, at_most=2)
    assert differences(left, REFERENCE) == differences(got, REFERENCE)
    assert len(differences(got, REFERENCE)) == 4


@pytest.mark.parametrize(
    "change",
    [
        {MERGED % "app": 1.0},  # merged alone
        {STARTED % "app": 5.0},  # started alone
        {STARTED % "app": 6.0, MERGED % "app": 1.0},  # unequal: more started
        {STARTED % "app": 5.0, MERGED % "app": 2.0},  # unequal: more merged
        {STARTED % "web": 11.0, MERGED % "app": 1.0},  # in two channels
        {STARTED % "web": 9.0, MERGED % "web": 1.0},  # fewer
    ],
)
def test_every_other_difference_stays_whole(change: dict[str, float]) -> None:
    got = {**REFERENCE, **change}
    assert entry_changes(got, REFERENCE) == {}
    left = differences(without_entry_changes(got, REFERENCE, at_most=2), REFERENCE)
    assert left == differences(got, REFERENCE) != []


def test_other_series_beside_an_entry_change_stay() -> None:
    got = {**REFERENCE, STARTED % "app": 5.0, MERGED % "app": 1.0, "tracker_events_total{}": 1.0}
    left = without_entry_changes(got, REFERENCE, at_most=2)
    assert differences(left, REFERENCE) == ["tracker_events_total{}: got 1.0, expected 0"]


class _Scraped(Fleet):
    """A fleet whose workers' scrape is given: the comparison's wiring, without processes."""

    def __init__(self, samples: list[Sample]) -> None:
        super().__init__([], partitions=1)
        self.samples = samples

    def scrape(self) -> list[list[Sample]] | None:
        return [self.samples]

    def settled(self, scraped: list[list[Sample]]) -> bool:
        return True


def _sample(key: str, value: float) -> Sample:
    name, _, channel = key.partition("{channel=")
    return (name, (("channel", channel.rstrip("}")),), value)


def test_the_fleet_compares_the_adjusted_scrape_and_keeps_the_raw_one() -> None:
    got = {**REFERENCE, STARTED % "app": 5.0, MERGED % "app": 1.0}
    fleet = _Scraped([_sample(k, v) for k, v in got.items()])
    with pytest.raises(AssertionError, match="merged_total"):
        fleet.wait_for_counters(REFERENCE, timeout=0.01)
    fleet.wait_for_counters(
        REFERENCE, timeout=5, adjust=lambda a, e: without_entry_changes(a, e, at_most=1)
    )
    assert fleet.last_counters == got


def test_a_failure_lists_what_was_accepted_after_what_was_not() -> None:
    got = {**REFERENCE, STARTED % "app": 5.0, MERGED % "app": 1.0, STARTED % "web": 12.0}
    fleet = _Scraped([_sample(k, v) for k, v in got.items()])
    with pytest.raises(AssertionError) as failure:
        fleet.wait_for_counters(
            REFERENCE, timeout=0.01, adjust=lambda a, e: without_entry_changes(a, e, at_most=1)
        )
    lines = str(failure.value).splitlines()[1:]
    assert [line.strip() for line in lines] == [
        f"{STARTED % 'web'}: got 12.0, expected 10.0",
        f"(accepted) {MERGED % 'app'}: got 1.0, expected 0",
        f"(accepted) {STARTED % 'app'}: got 5.0, expected 4.0",
    ]
