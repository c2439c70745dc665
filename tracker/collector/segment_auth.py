"""Write keys: who may post to the Segment API (docs/segment.md#write-keys).

``TRACKER_WRITE_KEYS`` holds comma-separated keys; several at once let a key be
rotated without a gap. ``KEY:upstream`` marks a source whose consent was collected
before the SDK loaded. Keys are secrets: compared in constant time, never logged,
never a label.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

from pydantic import SecretStr

UPSTREAM = "upstream"


@dataclass(frozen=True, slots=True)
class WriteKey:
    secret: bytes
    upstream_consent: bool


class WriteKeyError(ValueError):
    """A TRACKER_WRITE_KEYS entry that cannot be read."""


def parse_write_keys(value: SecretStr | None) -> tuple[WriteKey, ...]:
    if value is None:
        return ()
    keys: list[WriteKey] = []
    for entry in value.get_secret_value().split(","):
        entry = entry.strip()
        if not entry:
            continue
        key, _, option = entry.partition(":")
        if not key or option not in ("", UPSTREAM):
            # The entry itself is a secret: say where, not what.
            raise WriteKeyError(f"entry {len(keys) + 1}: KEY or KEY:{UPSTREAM}")
        keys.append(WriteKey(key.encode(), option == UPSTREAM))
    return tuple(keys)


def authenticate(header: str | None, keys: tuple[WriteKey, ...]) -> WriteKey | str:
    """The write key of an ``Authorization: Basic`` header (the key as user, any
    password), or why not: missing, malformed or unknown_key."""
    if not header:
        return "missing"
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return "malformed"
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return "malformed"
    user = decoded.split(b":", 1)[0]
    found = None
    for key in keys:  # every key compared, so the time says nothing about which matched
        if hmac.compare_digest(user, key.secret) and found is None:
            found = key
    return found if found is not None else "unknown_key"
