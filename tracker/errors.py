"""The package's root exception: every user-facing failure derives from it."""


class TrackerError(Exception):
    """A failure with a message that tells the user what to fix."""


class ConfigError(TrackerError):
    """A setting is missing or has a bad value."""


class BrokerError(TrackerError):
    """The broker could not be started, reached or prepared."""
