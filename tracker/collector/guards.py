"""Who may post: CORS origin policy, bot user agents, and the client's address."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

NO_USER_AGENT = "no_user_agent"


class OriginPolicy:
    """Browsers on allowed origins may post; same-origin and non-browser clients always."""

    def __init__(self, allowed: tuple[str, ...]) -> None:
        self.any = "*" in allowed
        self.allowed = frozenset(allowed)

    def allows(self, origin: str | None, host: str | None) -> bool:
        if origin is None:
            return True  # not a browser's cross-origin request: CORS does not apply
        origin = origin.lower()
        if self.any or origin in self.allowed:
            return True
        # Browsers send Origin on same-origin POSTs too; those need no allow-list entry.
        return host is not None and origin != "null" and urlsplit(origin).netloc == host.lower()


class BotFilter:
    """Matches a user agent against configured substrings; the match is the reason."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        alternatives = "|".join(re.escape(p.lower()) for p in patterns if p)
        self._pattern = re.compile(alternatives) if alternatives else None

    def reason(self, user_agent: str | None) -> str | None:
        """None for a likely human; else the matching pattern, or no_user_agent."""
        if not user_agent or not user_agent.strip():
            return NO_USER_AGENT
        if self._pattern is None:
            return None
        found = self._pattern.search(user_agent.lower())
        return found.group(0) if found else None


def client_address(remote: str | None, forwarded_for: str | None, proxy_hops: int) -> str:
    """The client's IP: the peer, or behind ``proxy_hops`` trusted proxies the address
    the outermost of them saw (anything further left in X-Forwarded-For is client-made)."""
    if proxy_hops > 0 and forwarded_for:
        hops = [part.strip() for part in forwarded_for.split(",") if part.strip()]
        if len(hops) >= proxy_hops:
            return hops[-proxy_hops]
    return remote or "unknown"
