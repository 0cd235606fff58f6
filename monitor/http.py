"""The monitor's HTTP interface (config `listen`), served by hypercorn's trio worker.

    GET /                       HTML status page (monitor.statuspage)
    GET /findings, /findings.json
                                JSON: the newest findings (?limit=N, at most MAX_LIMIT)
                                with their documents
    GET /findings/<id>.json     one finding's JSON document (entry, checkpoint,
                                inclusion proof), as a download
    GET /healthz                liveness
    GET /metrics                Prometheus metrics (monitor.metrics, and the alert
                                outbox's when it runs)

Every read of the state database happens in a worker thread on a read-only
connection of its own, so a page never waits for the monitor's writer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import hypercorn.config
import hypercorn.trio
import trio
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from monitor.stall import LogStall
from monitor.status import MonitorStatus, read_finding, read_snapshot
from monitor.statuspage import MAX_FINDINGS, render_status

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "")
    if not (raw.isascii() and raw.isdigit() and len(raw) < 10):
        return DEFAULT_LIMIT
    return min(int(raw), MAX_LIMIT)


def create_app(
    name: str, status: MonitorStatus, state: Path, registry: CollectorRegistry
) -> Starlette:
    """The ASGI app of a monitor whose state database is at `state`."""

    def stalls() -> dict[str, LogStall]:
        out = {}
        for log in status.logs:
            s = status.stalls.get(log)
            if s is not None:
                out[log] = s
        return out

    async def page(request: Request) -> Response:
        snapshot = await trio.to_thread.run_sync(read_snapshot, state, MAX_FINDINGS)
        return HTMLResponse(render_status(name, list(status.logs.values()), snapshot, stalls()))

    async def findings(request: Request) -> Response:
        snapshot = await trio.to_thread.run_sync(read_snapshot, state, _limit(request))
        return JSONResponse(
            {
                "total": snapshot.total,
                "findings": [
                    {
                        "id": f.id,
                        "log": f.log,
                        "rule": f.rule,
                        "index": f.index,
                        "origin": f.origin,
                        "subject": f.subject,
                        "summary": f.summary,
                        "created": f.created,
                        "delivered": f.delivered,
                        "url": f"/findings/{f.id}.json",
                        "document": json.loads(f.body),
                    }
                    for f in snapshot.findings
                ],
            }
        )

    async def finding(request: Request) -> Response:
        raw = request.path_params["id"]
        body = None
        if raw.isascii() and raw.isdigit() and len(raw) < 19:
            body = await trio.to_thread.run_sync(read_finding, state, int(raw))
        if body is None:
            return PlainTextResponse("no finding with this id\n", 404)
        disposition = f'attachment; filename="finding-{int(raw)}.json"'
        return Response(
            body, media_type="application/json", headers={"content-disposition": disposition}
        )

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def metrics(request: Request) -> Response:
        body = await trio.to_thread.run_sync(generate_latest, registry)
        return Response(body, headers={"content-type": CONTENT_TYPE_LATEST})

    return Starlette(
        routes=[
            Route("/", page),
            Route("/findings", findings),
            Route("/findings.json", findings),
            Route("/findings/{id}.json", finding),
            Route("/healthz", healthz),
            Route("/metrics", metrics),
        ]
    )


def hypercorn_config(host: str, port: int) -> hypercorn.config.Config:
    hc = hypercorn.config.Config()
    hc.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")
    hc.read_timeout = 30
    hc.keep_alive_timeout = 30
    hc.graceful_timeout = 5
    return hc


async def serve(
    app: Starlette,
    host: str,
    port: int,
    shutdown_trigger: Callable[[], Awaitable[None]],
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `app` on host:port until `shutdown_trigger` returns; report the bound URLs."""
    await hypercorn.trio.serve(
        app, hypercorn_config(host, port), shutdown_trigger=shutdown_trigger,
        task_status=task_status,
    )  # fmt: skip
