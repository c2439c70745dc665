"""Who may post: CORS origin policy, bot user agents, and the client's address."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tracker.core.bots import NO_USER_AGENT, bot_rule


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
    """The maintained crawler list and the headless rule (``tracker.core.bots``), plus the
    configured substrings on top. A configured substring is tried first, so the reasons
    that dashboards already read (``bot``, ``headlesschrome``) keep their meaning; what
    only the list knows is ``crawler_list`` or ``headless``."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        alternatives = "|".join(re.escape(p.lower()) for p in patterns if p)
        self._pattern = re.compile(alternatives) if alternatives else None

    def reason(self, user_agent: str | None) -> str | None:
        """None for a likely human; else the matching pattern, the rule, or no_user_agent."""
        if not user_agent or not user_agent.strip():
            return NO_USER_AGENT
        found = self._pattern.search(user_agent.lower()) if self._pattern is not None else None
        return found.group(0) if found else bot_rule(user_agent)


def client_address(remote: str | None, forwarded_for: str | None, proxy_hops: int) -> str:
    """The client's IP: the peer, or behind ``proxy_hops`` trusted proxies the address
    the outermost of them saw (anything further left in X-Forwarded-For is client-made)."""
    if proxy_hops > 0 and forwarded_for:
        hops = [part.strip() for part in forwarded_for.split(",") if part.strip()]
        if len(hops) >= proxy_hops:
            return hops[-proxy_hops]
    return remote or "unknown"
