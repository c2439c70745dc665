"""The collector's log: client text escaped, one line per record, rejections sampled.

Ids are any Unicode (docs/contract.md#bounds): a customer id may hold a newline, a
carriage return, a NUL, an ANSI escape or a bidi override. Written raw into a log it
could start a forged line or hide text from whoever reads the log. So every record's
message is escaped (``printable``), and the lines of a traceback are indented: a line
that starts at column 0 always starts a record the collector wrote.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp.http_exceptions import BadHttpMessage

from tracker.collector.intake import Rejected

FORMAT = "%(asctime)s %(levelname)s %(message)s"
MAX_LOGGED_CHARS = 200
REJECTION_LOG_INTERVAL = 10.0  # seconds between two lines about rejected events


def printable(text: str, limit: int = MAX_LOGGED_CHARS) -> str:
    """``text`` with every non-printable character escaped, cut at ``limit`` characters.

    ``str.isprintable`` is False for control characters, line and paragraph separators
    and format characters (bidi overrides among them): exactly what must not reach a log
    raw. Backslashes stay as they are: an escaped newline then reads ``\\n``, never a break.
    """
    cut = text[:limit] + ("…" if len(text) > limit else "")
    if cut.isprintable():
        return cut
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in cut)


class OneLineFormatter(logging.Formatter):
    """Messages escaped to one line; tracebacks and stacks indented beneath them."""

    def __init__(self) -> None:
        super().__init__(FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        return printable(super().formatMessage(record), limit=10_000)

    def formatException(self, ei: logging._SysExcInfoType) -> str:  # noqa: N802
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return _indented(super().formatStack(stack_info))


def _indented(text: str) -> str:
    return "\n".join("    " + printable(line, limit=10_000) for line in text.splitlines())


class ClientErrorFilter(logging.Filter):
    """aiohttp logs every malformed request (an oversized header, a bad request line) as
    an error with a traceback: the client's fault, and a cheap way to flood the log.
    Such a record becomes one warning line naming the peer and the problem."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, BadHttpMessage):
            args = record.args if isinstance(record.args, tuple) else ()
            problem = str(exc.message).splitlines()[0] if exc.message else type(exc).__name__
            record.msg = "collector: malformed request from %s answered %d: %s"
            record.args = (args[0] if args else "?", exc.code, printable(problem))
            if record.levelno > logging.WARNING:
                record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


def configure_logging() -> None:
    """What ``tracker collector`` logs, and how (the process's root handler)."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("aiohttp.server").addFilter(ClientErrorFilter())


@dataclass(slots=True)
class RejectionLog:
    """One line per interval about rejected events: enough for an operator to see what a
    sender gets wrong, too little for a hostile sender to flood the log."""

    log: logging.Logger
    interval: float = REJECTION_LOG_INTERVAL
    _last: float = float("-inf")
    _unlogged: int = 0

    def note(self, rejected: Sequence[Rejected], now: float) -> None:
        if not rejected:
            return
        self._unlogged += len(rejected)
        if now - self._last < self.interval:
            return
        sample = rejected[-1]
        rules = ", ".join(error["rule"] for error in sample.errors)
        self.log.info(
            "collector: events rejected since the last report: %d; e.g. event_id %s: %s",
            self._unlogged,
            printable(repr(sample.event_id)),
            printable(rules),
        )
        self._last, self._unlogged = now, 0
