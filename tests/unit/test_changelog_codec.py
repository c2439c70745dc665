"""Changelog rows are packed with zstd and the tracker's dictionary; every format ever written reads."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker.errors import ConfigError
from tracker.kafka.changelog_codec import (
    DICTIONARIES,
    WRITING,
    UnknownDictionaryError,
    is_packed,
    pack,
    unpack,
)
from tracker.settings import load_settings

# Packed by the first release that wrote zstd rows, with rows-1.zdict. A dictionary file
# changed in place (instead of added under a new id) would fail here: every row it packed
# in a changelog would then be unreadable.
RELEASED = bytes.fromhex(
    "28b52ffd23016b72744e1d0100505d343132223a327d7d7d09fc901740533a8aab8a7a73f1cde6011f7c68ee0ca89801"
)
RELEASED_ROW = b'{"s":[1780000000000,[[3,1780000000000]],null],"o":41,"e":7,"d":{"c":{"12":2}}}'

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=40,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6) | st.lists(json_values))
def test_every_json_row_comes_back_byte_for_byte(value: object) -> None:
    row = orjson.dumps(value)
    packed = pack(row, "zstd")
    assert is_packed(packed) and not is_packed(row)  # JSON never begins with the magic number
    assert unpack(packed) == row
    assert pack(row, "none") == row
    assert unpack(row) == row  # plain rows (older releases, codec none) read as they are


def test_a_row_packed_by_the_first_zstd_release_still_reads() -> None:
    assert unpack(RELEASED) == RELEASED_ROW
    assert WRITING in DICTIONARIES


def test_rows_the_dictionary_never_saw_pack_to_well_under_half() -> None:
    # Rows of a stream the dictionary was not trained on (its script's seed is 23).
    from tests.unit.helpers import config
    from tracker.testing.reference import ReferencePipeline
    from tracker.testing.streams import generated_messages

    pipeline = ReferencePipeline(config(), 4)
    for m in generated_messages(seed=41, events=2_000, rate=20.0):
        pipeline.feed(m.key, m.value, m.timestamp_ms, m.timestamp_ms)
    rows = [v for s in pipeline.stores.values() for _, v in s.log if v is not None]
    assert len(rows) > 500
    packed = sum(len(pack(row, "zstd")) for row in rows)
    assert packed < 0.45 * sum(len(row) for row in rows)


def naming_dictionary(dict_id: int, row: bytes = RELEASED_ROW) -> bytes:
    """``row`` packed, its frame naming dictionary ``dict_id`` (as a later release's would)."""
    frame = bytearray(pack(row, "zstd"))
    descriptor = frame[4]
    at = 5 if descriptor & 0x20 else 6  # a window byte unless the frame is a single segment
    size = (0, 1, 2, 4)[descriptor & 0x03]
    assert size == 4
    frame[at : at + size] = dict_id.to_bytes(4, "little")
    return bytes(frame)


def test_a_row_from_a_dictionary_this_release_lacks_says_what_to_run() -> None:
    with pytest.raises(UnknownDictionaryError, match=r"0x74726b7f.*newer release"):
        unpack(naming_dictionary(0x74726B7F))


def test_a_frame_that_is_not_one_whole_packed_row_is_refused() -> None:
    import zstandard

    with pytest.raises(ValueError, match="without a dictionary"):
        unpack(zstandard.ZstdCompressor().compress(RELEASED_ROW))
    with pytest.raises(zstandard.ZstdError):
        unpack(RELEASED + b"{}")


def test_the_codec_setting_takes_zstd_or_none_and_names_itself_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TRACKER_CHANGELOG_CODEC", raising=False)
    assert load_settings().changelog_codec == "zstd"
    monkeypatch.setenv("TRACKER_CHANGELOG_CODEC", "none")
    assert load_settings().changelog_codec == "none"
    monkeypatch.setenv("TRACKER_CHANGELOG_CODEC", "gzip")
    with pytest.raises(ConfigError, match="TRACKER_CHANGELOG_CODEC"):
        load_settings()
