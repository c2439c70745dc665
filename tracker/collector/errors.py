"""The collector's exceptions, under the package's root exception."""

from tracker.errors import TrackerError


class CollectorError(TrackerError):
    """Root of every failure raised by the collector."""


class SinkUnavailableError(CollectorError):
    """The broker did not acknowledge a write: the client must retry later (503)."""


class BadBatchError(CollectorError):
    """A request body that cannot be taken apart into events at all."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
