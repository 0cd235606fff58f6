"""A webhook receiver inside the demo's own trio loop: every daemon of the demo network
POSTs its page and warn alerts here (docs/alerts.md, payload version 1), and the demo
counts them. Alerts are deduplicated on their `id`, as a real receiver must."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

import hypercorn.config
import hypercorn.trio
import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Received:
    """One alert and when it arrived (POSIX time)."""

    at: float
    alert: dict[str, Any]


class Receiver:
    """Records alerts POSTed to `<url>/hook` while `serve` runs."""

    def __init__(self) -> None:
        self.url = ""
        self._alerts: dict[str, Received] = {}

    @property
    def hook(self) -> str:
        return f"{self.url}/hook"

    def alerts(self) -> list[Received]:
        """Every distinct alert, in order of arrival."""
        return sorted(self._alerts.values(), key=lambda r: r.at)

    def pages(self, kind: str, subject: str | None = None) -> list[Received]:
        """The page alerts of `kind` (about `subject`, if given)."""
        return [
            r
            for r in self.alerts()
            if r.alert.get("class") == "page"
            and r.alert.get("kind") == kind
            and (subject is None or r.alert.get("subject") == subject)
        ]

    async def _hook(self, request: Request) -> Response:
        try:
            alert = json.loads(await request.body())
            key = str(alert["id"])
        except (ValueError, KeyError, TypeError):
            return Response("not a witnessnet alert payload\n", 400)
        self._alerts.setdefault(key, Received(time.time(), alert))
        return Response(status_code=204)

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve on 127.0.0.1 with a port the OS picks until cancelled."""
        config = hypercorn.config.Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = 0.5
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(partial(hypercorn.trio.serve, app, config))
            self.url = str(binds[0])
            task_status.started()
