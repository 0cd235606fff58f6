"""The JSON object that describes one alert to a destination (documented in docs/alerts.md).

Version 1. Webhooks receive `payload`; the log line is `log_record`, the same
object without the attachment bytes (their SHA-256 stays).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

from witnessnet.alerts.outbox import Delivery

PAYLOAD_VERSION = 1


def _rfc3339(posix: float) -> str:
    stamp = datetime.fromtimestamp(posix, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def log_record(delivery: Delivery, source: str) -> dict[str, Any]:
    """Every payload field except `attachment`."""
    alert = delivery.alert
    return {
        "version": PAYLOAD_VERSION,
        "id": delivery.id,
        "source": source,
        "class": alert.cls,
        "kind": alert.kind,
        "subject": alert.subject,
        "summary": alert.summary,
        "dedupe_key": alert.dedupe_key,
        "details": dict(alert.details),
        "raised_at": _rfc3339(delivery.raised),
        "attempt": delivery.attempt,
        "attachment_sha256": (
            hashlib.sha256(alert.attachment).hexdigest() if alert.attachment else ""
        ),
    }


def payload(delivery: Delivery, source: str) -> dict[str, Any]:
    """The webhook body: `log_record` plus the attachment, base64 (standard, padded)."""
    record = log_record(delivery, source)
    record["attachment"] = base64.b64encode(delivery.alert.attachment).decode("ascii")
    return record
