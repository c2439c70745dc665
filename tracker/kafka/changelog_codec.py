"""How state rows are written to their changelog: zstd with a dictionary trained on rows.

A changelog record holds one row of JSON, a few hundred bytes. Kafka's own compression
works on a producer's batch, and a live worker sends a few records per batch, so it
gains little there. zstd with a dictionary trained on the tracker's rows
(``scripts/train_changelog_dictionary.py``) compresses each record on its own to about a
third, at ~4 µs per row: the changelog's bytes on the broker, its replicas and a
restore's reading shrink with it. Memory holds rows as JSON: ``unpack`` is called
once per row a restore brought back.

The dictionary ships in the package, so it is trained on generated rows only, never
on a deployment's: it would carry pieces of them to everyone who installs the tracker.

Rows are JSON, which never begins with zstd's magic number, so plain rows (written
before this codec, or with ``TRACKER_CHANGELOG_CODEC=none``) and packed ones are told
apart by their first bytes and both are read, always.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import zstandard

Codec = Literal["zstd", "none"]
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
LEVEL = 3  # levels 1-3 measured within 5% in size; 6 costs ~4x the time for ~3% less
# Every dictionary a release has written with, by the id its frames carry. A quiet
# customer's row stays in a compacted changelog for as long as the reach windows keep
# it, so a dictionary is only ever added, never changed or removed.
DICTIONARIES: dict[int, str] = {0x74726B01: "rows-1.zdict"}
WRITING = 0x74726B01


class UnknownDictionaryError(ValueError):
    """A row packed with a dictionary this release does not have: a newer release wrote it."""


@cache
def _dictionary(dict_id: int) -> zstandard.ZstdCompressionDict:
    name = DICTIONARIES.get(dict_id)
    if name is None:
        raise UnknownDictionaryError(
            f"changelog row compressed with dictionary {dict_id:#x}, which this release does"
            " not have: a newer release wrote it; run that release (or a newer one)"
        )
    data = resources.files("tracker").joinpath("data", "changelog", name).read_bytes()
    dictionary = zstandard.ZstdCompressionDict(data, dict_type=zstandard.DICT_TYPE_FULLDICT)
    if dictionary.dict_id() != dict_id:
        raise RuntimeError(f"{name} holds dictionary {dictionary.dict_id():#x}, not {dict_id:#x}")
    return dictionary


@cache
def _compressor() -> zstandard.ZstdCompressor:
    # The content size lets the decompressor allocate once; a checksum would only repeat
    # what Kafka's record CRC already guards.
    return zstandard.ZstdCompressor(
        level=LEVEL, dict_data=_dictionary(WRITING), write_checksum=False, write_dict_id=True
    )


@cache
def _decompressor(dict_id: int) -> zstandard.ZstdDecompressor:
    return zstandard.ZstdDecompressor(dict_data=_dictionary(dict_id))


def is_packed(value: bytes) -> bool:
    return value[:4] == ZSTD_MAGIC


def pack(value: bytes, codec: Codec) -> bytes:
    """``value`` (a row as JSON) as the changelog record's value."""
    return _compressor().compress(value) if codec == "zstd" else value


def unpack(value: bytes) -> bytes:
    """A changelog record's value as the row it holds, whichever way it was written."""
    if not is_packed(value):
        return value
    dict_id = zstandard.get_frame_parameters(value).dict_id
    if dict_id == 0:  # the tracker always names its dictionary
        raise ValueError("a zstd frame without a dictionary: not a row the tracker wrote")
    # One frame and nothing after it: trailing bytes mean a record that is not a row.
    return _decompressor(dict_id).decompress(value, allow_extra_data=False)
