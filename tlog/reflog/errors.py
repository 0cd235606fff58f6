"""Errors of the reference log; the HTTP layer maps AddRefusedError to 503."""

from tlog.errors import TlogError


class ReflogError(TlogError):
    """Base of the reference log's errors."""


class LogStateError(ReflogError):
    """A log directory that cannot be resumed: wrong key or origin, tiles that do not
    match the checkpoint, or a damaged journal. The message names the file."""


class AddRefusedError(ReflogError):
    """An entry the log does not take now (queue full, fork not yet diverged); retry later."""
