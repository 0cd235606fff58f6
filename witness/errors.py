"""The exception hierarchy of the witness role.

Protocol rejections are not exceptions: `witness.decide` returns them as values.
These are the failures around it: bad configuration, bad request bytes, storage.
"""


class WitnessError(Exception):
    """Base of every error raised by the witness package."""


class MalformedRequestError(WitnessError, ValueError):
    """An add-checkpoint body that does not follow the tlog-witness grammar."""


class ConfigError(WitnessError):
    """A configuration file or log list that cannot be used; the message names file and key."""


class StoreError(WitnessError):
    """The state database cannot be opened or written."""


class DatabaseMissingError(StoreError):
    """The state database does not exist and the witness was not told it is new."""


class DatabaseLockedError(StoreError):
    """Another process holds the state database."""


class SignerError(WitnessError):
    """The cosigning key cannot sign right now (e.g. its ssh-agent went away)."""
