"""Per-client token buckets: ``rate`` requests per second, bursts up to ``burst``.

Memory stays bounded: buckets are kept in least-recently-used order, a bucket
idle long enough to be full again is the same as no bucket and is dropped,
and beyond ``max_clients`` the least recently seen client is forgotten.
"""

from __future__ import annotations

from collections import OrderedDict


class RateLimiter:
    def __init__(self, rate: float, burst: int, max_clients: int = 100_000) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_clients = max_clients
        self._refill_time = self.burst / rate if rate > 0 else 0.0
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, client: str, now: float) -> float:
        """Take a token: 0.0 when allowed, else the seconds until the next token."""
        if not self.enabled:
            return 0.0
        found = self._buckets.pop(client, None)
        if found is None:
            tokens = self.burst
        else:
            tokens = min(self.burst, found[0] + (now - found[1]) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        self._prune(now)
        return wait

    def _prune(self, now: float) -> None:
        buckets = self._buckets
        while len(buckets) > self.max_clients:
            buckets.popitem(last=False)
        while buckets:
            _tokens, at = next(iter(buckets.values()))
            if now - at < self._refill_time:
                break  # the oldest entry still matters, so do all younger ones
            buckets.popitem(last=False)
