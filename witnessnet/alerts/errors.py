"""The exception hierarchy of the alerts shell."""

from __future__ import annotations


class AlertsError(Exception):
    """Base of every error raised by `witnessnet.alerts`."""


class AlertsConfigError(AlertsError, ValueError):
    """An `[alerts]` table that cannot be used; the message names the key."""


class OutboxError(AlertsError):
    """The outbox database cannot be opened or written."""


class OutboxLockedError(OutboxError):
    """Another process holds the outbox (two dispatchers would deliver twice)."""


class DeliveryError(AlertsError):
    """A destination did not accept an alert this time; the dispatcher retries.

    `retry_after` is the destination's own hint in seconds (HTTP Retry-After), if any.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """A destination refused an alert for good (e.g. HTTP 400); it is not retried."""
