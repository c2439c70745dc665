"""Which differences from the reference the reliability scenarios accept: one shape only.

An out-of-order device page that restarts a session under another entry channel
counts started and merged once more under the channel it replaced
(``tracker.testing.streams.entry_changes``). Anything else stays a difference.
"""

from __future__ import annotations

import pytest

from tracker.testing.streams import differences, entry_changes, without_entry_changes

STARTED = "tracker_sessions_started_total{channel=%s}"
MERGED = "tracker_sessions_merged_total{channel=%s}"
REFERENCE = {STARTED % "web": 10.0, STARTED % "app": 4.0, MERGED % "web": 2.0}


def test_equal_excess_of_started_and_merged_in_one_channel_is_taken_out() -> None:
    got = {**REFERENCE, STARTED % "app": 6.0, MERGED % "app": 2.0, STARTED % "web": 11.0}
    got[MERGED % "web"] = 3.0
    assert entry_changes(got, REFERENCE) == {"{channel=app}": 2, "{channel=web}": 1}
    assert differences(without_entry_changes(got, REFERENCE), REFERENCE) == []
    assert got[STARTED % "app"] == 6.0, "the scrape itself is left as it was"


@pytest.mark.parametrize(
    "change",
    [
        {MERGED % "app": 1.0},  # merged alone
        {STARTED % "app": 5.0},  # started alone
        {STARTED % "app": 6.0, MERGED % "app": 1.0},  # unequal
        {STARTED % "web": 11.0, MERGED % "app": 1.0},  # in two channels
        {STARTED % "web": 9.0, MERGED % "web": 1.0},  # fewer
        {STARTED % "web": 11.0, MERGED % "web": 3.0, "tracker_events_total{}": 1.0},
    ],
)
def test_every_other_difference_stays(change: dict[str, float]) -> None:
    got = {**REFERENCE, **change}
    left = differences(without_entry_changes(got, REFERENCE), REFERENCE)
    assert left != []
    if "tracker_events_total{}" in change:
        assert left == ["tracker_events_total{}: got 1.0, expected 0"]
