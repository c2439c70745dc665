"""Short codes for counter names in stored rows: half of a row's bytes were metric names.

A customer's row carries its flush epoch's delta, and every event rewrites the row, so
``tracker_events_total|page_view|web`` went to the changelog once per event of the epoch.
Stored rows write each known metric name as a code of one or two characters instead
(``0|page_view|web``); the labels stay as they are. Memory and ``/metrics`` keep the full
names: only ``encode_counters`` and ``decode_counters`` see codes.

The codes are ``codes.COUNTER_NAME_CODES`` (numbers, pinned like every persisted code:
changing one would read old rows as other metrics) written in base 62. A name that is
not listed (a metric added without a code) is stored in full, and full names are read
as they are, so rows of versions before codes restore unchanged. No full name can be taken for a
code: every metric name starts with ``tracker_``, and no code is longer than two.

Both directions add up keys that meet: a worker of an earlier release that restored
coded rows (a rollback, a rolling upgrade) keeps their codes as unknown keys beside the
full names it writes itself, and the next release must count both.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from tracker.core.codes import COUNTER_NAME_CODES

SEP = "|"  # between a counter key's metric name and its labels (aggregates.counter_key)
_DIGITS = string.digits + string.ascii_letters


def short(code: int) -> str:
    """0-9, a-z, A-Z, then two characters: 3,906 names before a third would be needed."""
    if code < len(_DIGITS):
        return _DIGITS[code]
    high, low = divmod(code - len(_DIGITS), len(_DIGITS))
    if high >= len(_DIGITS):
        raise ValueError(f"counter name code {code} needs three characters")
    return _DIGITS[high] + _DIGITS[low]


CODE_OF: dict[str, str] = {name: short(code) for name, code in COUNTER_NAME_CODES.items()}
NAME_OF: dict[str, str] = {code: name for name, code in CODE_OF.items()}


# Keys already translated, both ways: a partition sees a bounded set of counter keys (labels
# are enumerations and allow-listed names), and the translation runs for every key of every
# row written or read. Capped, so that no input can grow them without bound.
MEMO_KEYS = 50_000
_coded: dict[str, str] = {}
_full: dict[str, str] = {}


def _translate(key: str, table: Mapping[str, str], memo: dict[str, str]) -> str:
    head, sep, labels = key.partition(SEP)
    other = table.get(head)
    translated = key if other is None else other + sep + labels
    if len(memo) < MEMO_KEYS:
        memo[key] = translated
    return translated


# Dicts, not Mappings, and ``memo.get`` itself, not a bound ``get``: compiled, a dict's
# items are walked and looked up through the dict's C API, where a Mapping's went through
# a Python iterator of new tuples and the bound method through a generic call, per key.
def _translated(
    counters: dict[str, int], table: Mapping[str, str], memo: dict[str, str]
) -> dict[str, int]:
    out = {memo.get(key) or _translate(key, table, memo): n for key, n in counters.items()}
    if len(out) < len(counters):  # two keys met (see the module's last paragraph): add up
        out = {}
        for key, n in counters.items():
            translated = memo.get(key) or _translate(key, table, memo)
            out[translated] = out.get(translated, 0) + n
    return out


def encode_counters(counters: dict[str, int]) -> dict[str, int]:
    """Counter keys as stored: a listed metric name becomes its code."""
    return _translated(counters, CODE_OF, _coded)


def decode_counters(stored: dict[str, int]) -> dict[str, int]:
    """``encode_counters`` read back; full names (older rows, unlisted metrics) as they are."""
    return _translated(stored, NAME_OF, _full)
