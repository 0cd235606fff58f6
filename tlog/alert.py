"""The interface through which every role reports alerts and findings.

Roles (witness, gossip, monitor) build `Alert` values and hand them to an
`AlertSink`; the product shell (`witnessnet.alerts`) wires sinks to structured
logs, Prometheus counters and webhooks. Roles never import the shell.

Classes, per the design: `page` for proven equivocation or an unauthorised
claim, `warn` for suspicions and stalls, `info` for infrastructure noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

AlertClass = Literal["page", "warn", "info"]
ALERT_CLASSES: tuple[AlertClass, ...] = ("page", "warn", "info")


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert.

    `dedupe_key` identifies the condition, not the occurrence: the same key
    raised twice (e.g. after a restart) is delivered once. `kind` is a short
    machine name (`split-view`, `unauthorised-release`, `log-stalled`);
    `subject` names what it is about (a log origin, a witness, a component).
    `attachment` carries the evidence or finding file, if any, verbatim.
    """

    cls: AlertClass
    kind: str
    subject: str
    summary: str
    dedupe_key: str
    details: Mapping[str, str | int] = field(default_factory=dict)
    attachment: bytes = b""

    def __post_init__(self) -> None:
        if self.cls not in ALERT_CLASSES:
            raise ValueError(f"alert class {self.cls!r} is not one of {ALERT_CLASSES}")
        if not self.dedupe_key:
            raise ValueError("alert needs a dedupe_key")


class AlertSink(Protocol):
    """Accepts alerts; `raise_alert` returns once the alert is durably queued."""

    async def raise_alert(self, alert: Alert) -> None: ...
