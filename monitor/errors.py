"""The exception hierarchy of the monitor role.

Entries that do not parse are not failures of the monitor: the claim parsers
raise MalformedClaimError and the rules turn it into a `malformed-entry`
finding. The other errors are the monitor's own: configuration, state, and a
log that cannot be read (tlog's LogClientError covers the network).
"""


class MonitorError(Exception):
    """Base of every error raised by the monitor package."""


class MalformedClaimError(MonitorError, ValueError):
    """An entry that is not a well-formed claim of the expected type; says what and where."""


class ConfigError(MonitorError):
    """A configuration file that cannot be used; the message names the file, key and line."""


class StateError(MonitorError):
    """The state database cannot be opened, is locked by another monitor, or is damaged."""


class NoCheckpointError(MonitorError):
    """No source served a checkpoint signed by the log's key that meets the policy."""


class FetchError(MonitorError):
    """An entry bundle that could not be fetched (after retries) or was not a valid bundle."""
