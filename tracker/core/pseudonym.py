"""Keyed pseudonyms: state, changelogs and logs never hold a raw customer id."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache


class Pseudonymizer:
    """HMAC-SHA256 of the customer id under a secret key, 128 bits, base64url."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonym key must be at least 16 bytes")
        self._key = key
        self.of = lru_cache(maxsize=65_536)(self._compute)

    def _compute(self, customer_id: str) -> str:
        digest = hmac.new(self._key, customer_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()

    @classmethod
    def ephemeral(cls) -> Pseudonymizer:
        """A random key for the demo: pseudonyms change with every start."""
        return cls(secrets.token_bytes(32))
