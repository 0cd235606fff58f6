"""Alerts: the outbox, its dispatcher and destinations, against a real webhook receiver.

The receiver is a Starlette app under hypercorn on 127.0.0.1 (port chosen by the OS)
that answers a scripted list of statuses before accepting. Crash safety is shown by
SIGKILLing a subprocess that raises alerts into an outbox file, then delivering from
that file with a fresh dispatcher and counting at the receiver.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import random
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import hypercorn.config
import hypercorn.trio
import pytest
import trio
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tlog.alert import ALERT_CLASSES, Alert, AlertClass, AlertSink
from witnessnet.alerts import (
    AlertMetrics,
    AlertsConfig,
    AlertsConfigError,
    Delivery,
    DeliveryError,
    LogDestination,
    Outbox,
    OutboxError,
    OutboxLockedError,
    PermanentDeliveryError,
    WebhookDestination,
    backoff_delay,
    log_record,
    parse_alerts_config,
    payload,
    run_alerts,
)

SOURCE = "example.com/witness"
ROOT = Path(__file__).resolve().parents[2]
WAIT = 15.0  # seconds before a wait_until gives up: a hang, not a speed limit


def alert(key: str, cls: AlertClass = "page", attachment: bytes = b"") -> Alert:
    return Alert(
        cls,
        "split-view",
        "example.com/log",
        f"condition {key}",
        key,
        {"size": 7, "note": "x"},
        attachment,
    )


def settings(url: str, log_file: Path, warn_hold: float = 0.0) -> AlertsConfig:
    return AlertsConfig(
        webhooks=(url,),
        log_file=log_file,
        warn_hold=warn_hold,
        retry_initial=0.01,
        retry_max=0.05,
        webhook_timeout=5.0,
    )


def routes(url: str) -> dict[str, frozenset[AlertClass]]:
    """The routes run_alerts builds for `settings(url, ...)`."""
    return {"log": frozenset(ALERT_CLASSES), url: frozenset({"page", "warn"})}


def logged(log_file: Path | None) -> list[dict[str, Any]]:
    assert log_file is not None
    if not log_file.exists():
        return []
    return [json.loads(line) for line in log_file.read_text().splitlines()]


async def wait_until(predicate: Callable[[], bool]) -> None:
    with trio.fail_after(WAIT):
        while not predicate():
            await trio.sleep(0.01)


@dataclass
class Receiver:
    """A webhook endpoint: answers `script` statuses in turn, then 204.

    `accepted` holds every body it answered 2xx (or, for request number `gate_at`,
    decided to: that request then hangs until `release` is set, as if the answer
    were lost). `requests` holds (body, Idempotency-Key, arrival time) of all.
    """

    script: list[int] = field(default_factory=list)
    gate_at: int | None = None
    requests: list[tuple[dict[str, Any], str, float]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    gated: trio.Event = field(default_factory=trio.Event)
    release: trio.Event = field(default_factory=trio.Event)
    url: str = ""

    async def hook(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append((body, request.headers.get("idempotency-key", ""), time.time()))
        if len(self.requests) <= len(self.script):
            return Response(status_code=self.script[len(self.requests) - 1])
        self.accepted.append(body)
        if len(self.requests) == self.gate_at:
            self.gated.set()
            await self.release.wait()
        return Response(status_code=204)

    def delivered(self) -> list[str]:
        return [body["dedupe_key"] for body in self.accepted]

    async def serve(self, task_status: trio.TaskStatus[str]) -> None:
        app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])
        config = hypercorn.config.Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        config.graceful_timeout = 0.1

        async def started(*, task_status: trio.TaskStatus[list[str]]) -> None:
            await hypercorn.trio.serve(app, config, task_status=task_status)  # type: ignore[arg-type]

        async with trio.open_nursery() as nursery:
            binds = await nursery.start(started)
            self.url = f"{binds[0]}/hook"
            task_status.started(self.url)


@pytest.fixture
async def receiver(nursery: trio.Nursery) -> Receiver:
    r = Receiver()
    await nursery.start(r.serve)
    return r


@asynccontextmanager
async def alerts(
    config: AlertsConfig, path: Path, registry: CollectorRegistry | None = None
) -> AsyncIterator[Outbox]:
    """run_alerts in a nursery of its own, cancelled on exit."""
    async with trio.open_nursery() as nursery:
        outbox = await nursery.start(
            functools.partial(
                run_alerts,
                config,
                path,
                source=SOURCE,
                registry=registry or CollectorRegistry(),
            )
        )
        yield outbox
        nursery.cancel_scope.cancel()


async def settled(outbox: Outbox) -> None:
    """Wait until no delivery is pending."""
    await wait_until(lambda: all(b.pending == 0 for b in outbox.backlog().values()))


# Delivery to a real webhook.


async def test_webhook_retries_then_delivers_exactly_once(
    receiver: Receiver, tmp_path: Path
) -> None:
    receiver.script = [503, 429, 408, 500]
    config = settings(receiver.url, tmp_path / "alerts.jsonl")
    registry = CollectorRegistry()
    async with alerts(config, tmp_path / "alerts.db", registry) as outbox:
        await outbox.raise_alert(alert("fork-1", attachment=b"evidence"))
        await settled(outbox)
        states = await outbox.deliveries()
    assert len(receiver.accepted) == 1
    bodies = [body for body, _, _ in receiver.requests]
    alert_id = bodies[0]["id"]
    assert [b["attempt"] for b in bodies] == [1, 2, 3, 4, 5]
    assert {b["id"] for b in bodies} == {alert_id}
    assert {key for _, key, _ in receiver.requests} == {alert_id}
    assert base64.b64decode(receiver.accepted[0]["attachment"]) == b"evidence"
    hook = next(s for s in states if s.destination == receiver.url)
    assert (hook.state, hook.attempts, hook.last_error) == ("delivered", 5, None)
    assert [line["id"] for line in logged(config.log_file)] == [alert_id]
    label = receiver.url
    assert (
        registry.get_sample_value(
            "witnessnet_alerts_delivery_failures_total", {"destination": label, "outcome": "retry"}
        )
        == 4
    )
    assert (
        registry.get_sample_value(
            "witnessnet_alerts_delivered_total", {"destination": label, "class": "page"}
        )
        == 1
    )


async def test_permanent_refusal_is_recorded_not_retried(
    receiver: Receiver, tmp_path: Path
) -> None:
    receiver.script = [400]
    registry = CollectorRegistry()
    async with alerts(
        settings(receiver.url, tmp_path / "a.jsonl"), tmp_path / "a.db", registry
    ) as outbox:
        await outbox.raise_alert(alert("bad"))
        await settled(outbox)
        states = {s.destination: s for s in await outbox.deliveries()}
    assert len(receiver.requests) == 1 and receiver.accepted == []
    hook = states[receiver.url]
    assert (hook.state, hook.attempts) == ("failed", 1)
    assert hook.last_error is not None and hook.last_error.startswith("HTTP 400")
    assert states["log"].state == "delivered"
    assert (
        registry.get_sample_value(
            "witnessnet_alerts_delivery_failures_total",
            {"destination": receiver.url, "outcome": "permanent"},
        )
        == 1
    )


def delivery(cls: AlertClass = "page") -> Delivery:
    return Delivery("0" * 32, alert("k", cls), 1_700_000_000.25, "hook", 1, 1)


def mock_client(handler: Callable[[httpx.Request], Any]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, None),
        (202, None),
        (204, None),
        (301, PermanentDeliveryError),
        (400, PermanentDeliveryError),
        (401, PermanentDeliveryError),
        (404, PermanentDeliveryError),
        (410, PermanentDeliveryError),
        (408, DeliveryError),
        (429, DeliveryError),
        (500, DeliveryError),
        (502, DeliveryError),
        (503, DeliveryError),
    ],
)
async def test_webhook_status_classes(status: int, outcome: type[Exception] | None) -> None:
    async with mock_client(lambda request: httpx.Response(status)) as client:
        hook = WebhookDestination("http://hook.test/x", client, SOURCE, 5.0)
        if outcome is None:
            await hook.deliver(delivery())
            return
        with pytest.raises(outcome) as info:
            await hook.deliver(delivery())
    assert f"HTTP {status}" in str(info.value)
    assert isinstance(info.value, PermanentDeliveryError) == (outcome is PermanentDeliveryError)


async def test_webhook_request_format_and_retry_after() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(429, headers={"Retry-After": "7"})

    async with mock_client(handler) as client:
        hook = WebhookDestination("https://u:secret@hook.test/x?token=t", client, SOURCE, 5.0)
        with pytest.raises(DeliveryError) as info:
            await hook.deliver(delivery())
    assert info.value.retry_after == 7
    assert hook.label == "https://hook.test/x"
    request = seen[0]
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == "0" * 32
    assert json.loads(request.content) == payload(delivery(), SOURCE)


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
async def test_webhook_transport_errors_are_retried(error: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    async with mock_client(handler) as client:
        with pytest.raises(DeliveryError) as info:
            await WebhookDestination("http://hook.test/", client, SOURCE, 5.0).deliver(delivery())
    assert not isinstance(info.value, PermanentDeliveryError)
    assert type(error).__name__ in str(info.value)


async def test_webhook_timeout_is_retried() -> None:
    class Hang(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            await trio.sleep_forever()
            raise AssertionError

    async with httpx.AsyncClient(transport=Hang()) as client:
        with pytest.raises(DeliveryError, match=r"within 0\.05s"):
            await WebhookDestination("http://hook.test/", client, SOURCE, 0.05).deliver(delivery())


# Dedupe, hysteresis, classes.


def open_outbox(path: Path, registry: CollectorRegistry | None = None) -> Outbox:
    metrics = AlertMetrics(registry or CollectorRegistry())
    return Outbox.open(path, routes("http://hook.test/"), warn_hold=0.0, metrics=metrics)


async def test_dedupe_across_reraise_and_restart(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    outbox = open_outbox(tmp_path / "a.db", registry)
    sink: AlertSink = outbox
    await sink.raise_alert(alert("fork-1"))
    await sink.raise_alert(alert("fork-1"))
    first = await outbox.deliveries()
    outbox.close()
    outbox = open_outbox(tmp_path / "a.db")
    try:
        await outbox.raise_alert(alert("fork-1"))
        assert await outbox.deliveries() == first
        assert {s.destination for s in first} == {"log", "http://hook.test/"}
        assert len({s.id for s in first}) == 1
        assert await outbox.resolve("fork-1")
        assert not await outbox.resolve("fork-1")
        await outbox.raise_alert(alert("fork-1"))  # a new occurrence once resolved
        ids = {s.id for s in await outbox.deliveries()}
        assert len(ids) == 2
    finally:
        outbox.close()
    assert (
        registry.get_sample_value(
            "witnessnet_alerts_raised_total", {"class": "page", "kind": "split-view"}
        )
        == 1
    )
    assert (
        registry.get_sample_value(
            "witnessnet_alerts_deduplicated_total", {"class": "page", "kind": "split-view"}
        )
        == 1
    )


async def test_outbox_is_held_by_one_process(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path / "a.db")
    try:
        with pytest.raises(OutboxLockedError, match="in use by another process"):
            open_outbox(tmp_path / "a.db")
    finally:
        outbox.close()
    open_outbox(tmp_path / "a.db").close()  # released on close


def test_outbox_refuses_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a database, but long enough to look like one\n" * 50)
    with pytest.raises(OutboxError, match="is not a usable alert outbox"):
        open_outbox(tmp_path / "notes.txt")
    with pytest.raises(OutboxError, match="cannot lock"):
        open_outbox(tmp_path / "missing" / "a.db")


async def test_log_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    await LogDestination(SOURCE).deliver(delivery("info"))
    assert json.loads(capsys.readouterr().err) == log_record(delivery("info"), SOURCE)


async def test_warn_hysteresis_and_resolve(receiver: Receiver, tmp_path: Path) -> None:
    hold = 0.5
    config = settings(receiver.url, tmp_path / "a.jsonl", warn_hold=hold)
    async with alerts(config, tmp_path / "a.db") as outbox:
        before = time.time()
        await outbox.raise_alert(alert("flap", "warn"))
        await outbox.raise_alert(alert("stuck", "warn"))
        await outbox.raise_alert(alert("proof", "page"))
        assert await outbox.resolve("flap")
        await wait_until(lambda: "stuck" in receiver.delivered())
        again = time.time()
        await outbox.raise_alert(alert("flap", "warn"))  # the condition is back: a new alert
        await wait_until(lambda: "flap" in receiver.delivered())
        await settled(outbox)
        states = await outbox.deliveries()
    assert receiver.delivered() == ["proof", "stuck", "flap"]
    arrived = {body["dedupe_key"]: at for body, _, at in receiver.requests}
    assert arrived["stuck"] >= before + hold
    assert arrived["flap"] >= again + hold
    cancelled = [s for s in states if s.state == "cancelled"]
    assert {(s.dedupe_key, s.destination) for s in cancelled} == {
        ("flap", "log"),
        ("flap", receiver.url),
    }
    assert [line["dedupe_key"] for line in logged(config.log_file)] == ["proof", "stuck", "flap"]


async def test_info_never_reaches_a_webhook(receiver: Receiver, tmp_path: Path) -> None:
    config = settings(receiver.url, tmp_path / "a.jsonl")
    registry = CollectorRegistry()
    async with alerts(config, tmp_path / "a.db", registry) as outbox:
        await outbox.raise_alert(alert("noise", "info"))
        await outbox.raise_alert(alert("proof", "page"))
        await settled(outbox)
        states = await outbox.deliveries()
    assert receiver.delivered() == ["proof"]
    assert [(s.dedupe_key, s.destination) for s in states if s.cls == "info"] == [("noise", "log")]
    assert sorted(line["dedupe_key"] for line in logged(config.log_file)) == ["noise", "proof"]
    assert (
        registry.get_sample_value(
            "witnessnet_alerts_raised_total", {"class": "info", "kind": "split-view"}
        )
        == 1
    )


async def test_slow_webhook_does_not_hold_up_the_log_and_metrics(
    receiver: Receiver, tmp_path: Path
) -> None:
    receiver.gate_at = 1
    config = settings(receiver.url, tmp_path / "a.jsonl")
    registry = CollectorRegistry()

    def gauge(name: str, destination: str) -> float | None:
        return registry.get_sample_value(
            f"witnessnet_alerts_outbox_{name}", {"destination": destination}
        )

    async with alerts(config, tmp_path / "a.db", registry) as outbox:
        await outbox.raise_alert(alert("proof"))
        await receiver.gated.wait()
        await wait_until(lambda: outbox.backlog()["log"].pending == 0)
        assert [line["dedupe_key"] for line in logged(config.log_file)] == ["proof"]
        assert gauge("backlog", receiver.url) == 1
        assert gauge("backlog", "log") == 0
        assert gauge("oldest_pending_age_seconds", "log") == 0
        age = gauge("oldest_pending_age_seconds", receiver.url)
        assert age is not None and age >= 0
        receiver.release.set()
        await settled(outbox)
        assert gauge("backlog", receiver.url) == 0
        assert gauge("oldest_pending_age_seconds", receiver.url) == 0


# Crash safety: a subprocess raises alerts and is SIGKILLed.


def child_main() -> None:
    """The crash tests' subprocess: MODE OUTBOX URL LOG_FILE KEY...

    `raise`: store each key's alert, printing the key once stored; no delivery.
    `deliver`: the same while run_alerts delivers.
    """
    mode, path, url, log_file, *keys = sys.argv[1:]
    trio.run(_child, mode, Path(path), url, Path(log_file), keys)


async def _child(mode: str, path: Path, url: str, log_file: Path, keys: list[str]) -> None:
    async def raise_all(outbox: Outbox) -> None:
        for key in keys:
            await outbox.raise_alert(alert(key))
            print(key, flush=True)
        await trio.sleep_forever()

    if mode == "raise":
        await raise_all(open_outbox_at(path, url))
    else:
        async with alerts(settings(url, log_file), path) as outbox:
            await raise_all(outbox)


def open_outbox_at(path: Path, url: str) -> Outbox:
    return Outbox.open(path, routes(url), warn_hold=0.0, metrics=AlertMetrics(CollectorRegistry()))


async def read_lines(stream: trio.abc.ReceiveStream, n: int) -> list[str]:
    data = b""
    with trio.fail_after(WAIT):
        while data.count(b"\n") < n:
            chunk = await stream.receive_some()
            assert chunk, f"child exited after {data!r}"
            data += chunk
    return data.decode().splitlines()[:n]


@asynccontextmanager
async def child(
    mode: str, tmp_path: Path, url: str, keys: list[str]
) -> AsyncIterator[trio.Process]:
    argv = [
        sys.executable,
        "-c",
        "from tests.witnessnet.test_alerts import child_main; child_main()",
        mode,
        str(tmp_path / "outbox.db"),
        url,
        str(tmp_path / "alerts.jsonl"),
        *keys,
    ]
    proc = await trio.lowlevel.open_process(argv, cwd=ROOT, stdout=subprocess.PIPE)
    try:
        yield proc
    finally:
        proc.kill()  # SIGKILL
        await proc.wait()
        assert proc.stdout is not None
        await proc.stdout.aclose()


async def test_crash_before_delivery_loses_and_repeats_nothing(
    receiver: Receiver, tmp_path: Path
) -> None:
    keys = [f"k{i}" for i in range(20)]
    async with child("raise", tmp_path, receiver.url, [*keys[:5], *keys[:5], *keys[5:]]) as proc:
        assert proc.stdout is not None
        stored = await read_lines(proc.stdout, 15)  # SIGKILLed while still raising
    config = settings(receiver.url, tmp_path / "alerts.jsonl")
    async with alerts(config, tmp_path / "outbox.db") as outbox:
        await settled(outbox)
    delivered = receiver.delivered()
    assert set(stored) <= set(delivered) <= set(keys)
    assert len(delivered) == len(set(delivered)) == len({b["id"] for b in receiver.accepted})
    assert sorted(line["dedupe_key"] for line in logged(config.log_file)) == sorted(delivered)


async def test_crash_while_delivering_repeats_only_under_the_same_id(
    receiver: Receiver, tmp_path: Path
) -> None:
    keys = [f"k{i}" for i in range(8)]
    receiver.gate_at = 4
    async with child("deliver", tmp_path, receiver.url, keys) as proc:
        assert proc.stdout is not None
        assert await read_lines(proc.stdout, len(keys)) == keys
        await receiver.gated.wait()  # the 4th delivery is in flight: SIGKILL now
    receiver.release.set()
    config = settings(receiver.url, tmp_path / "alerts.jsonl")
    async with alerts(config, tmp_path / "outbox.db") as outbox:
        await settled(outbox)
        states = await outbox.deliveries()
    assert sorted(set(receiver.delivered())) == keys
    ids = [body["id"] for body in receiver.accepted]
    assert len(set(ids)) == len(keys)
    # Exactly the delivery cut short is repeated, under the id the receiver dedupes on.
    repeated = [i for i in set(ids) if ids.count(i) > 1]
    assert repeated == [receiver.accepted[3]["id"]] and ids.count(repeated[0]) == 2
    assert {s.state for s in states} == {"delivered"}
    assert {line["dedupe_key"] for line in logged(config.log_file)} == set(keys)


# Pure parts: config, backoff, payload.


def test_config_defaults_and_values(tmp_path: Path) -> None:
    assert parse_alerts_config({}, "w.toml: alerts") == AlertsConfig()
    config = parse_alerts_config(
        {
            "webhooks": ["https://a.example/hook", "http://127.0.0.1:9/x"],
            "log_file": "alerts.jsonl",
            "warn_hold_seconds": 0,
            "retry_initial_seconds": 0.5,
            "retry_max_seconds": 60,
            "webhook_timeout_seconds": 3,
        },
        "w.toml: alerts",
        base=tmp_path,
    )
    assert config == AlertsConfig(
        webhooks=("https://a.example/hook", "http://127.0.0.1:9/x"),
        log_file=tmp_path / "alerts.jsonl",
        warn_hold=0.0,
        retry_initial=0.5,
        retry_max=60.0,
        webhook_timeout=3.0,
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"webhook": []}, "w.toml: alerts.webhook: unknown key (did you mean 'webhooks'?)"),
        ({"webhooks": "https://a/"}, "w.toml: alerts.webhooks: must be an array"),
        ({"webhooks": ["ftp://a/"]}, "w.toml: alerts.webhooks[0]: 'ftp://a/' is not an http"),
        ({"webhooks": ["http://a:99999/"]}, "alerts.webhooks[0]: 'http://a:99999/' is not"),
        (
            {"webhooks": ["http://a/", "http://a/"]},
            "alerts.webhooks[1]: 'http://a/' is listed twice",
        ),
        ({"log_file": ""}, "w.toml: alerts.log_file: must be a non-empty path"),
        ({"warn_hold_seconds": -1}, "alerts.warn_hold_seconds: must be a number of seconds >= 0"),
        (
            {"retry_initial_seconds": 0},
            "alerts.retry_initial_seconds: must be a number of seconds > 0",
        ),
        ({"webhook_timeout_seconds": True}, "alerts.webhook_timeout_seconds: must be a number"),
        ({"retry_max_seconds": float("inf")}, "alerts.retry_max_seconds: must be a number"),
        (
            {"retry_initial_seconds": 10, "retry_max_seconds": 5},
            "alerts.retry_max_seconds: must be at least retry_initial_seconds (10)",
        ),
    ],
)
def test_config_errors_name_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(AlertsConfigError) as info:
        parse_alerts_config(table, "w.toml: alerts")
    assert message in str(info.value)


def test_config_must_be_a_table() -> None:
    with pytest.raises(AlertsConfigError, match=r"^w.toml: alerts: must be a table, not list$"):
        parse_alerts_config([], "w.toml: alerts")  # type: ignore[arg-type]


def test_backoff_doubles_with_jitter_and_is_bounded() -> None:
    rng = random.Random(1)
    for failures in range(1, 40):
        ceiling = min(30.0, 0.5 * 2 ** (failures - 1))
        for _ in range(50):
            delay = backoff_delay(failures, 0.5, 30.0, rng)
            assert ceiling / 2 <= delay <= ceiling
    assert backoff_delay(1, 0.5, 30.0, rng, retry_after=7) == 7
    assert backoff_delay(1, 0.5, 30.0, rng, retry_after=3600) == 30.0
    assert backoff_delay(10_000, 0.5, 30.0, rng) <= 30.0


def test_payload_fields() -> None:
    d = Delivery("ab" * 16, alert("fork-1", "warn", b"\x00evidence"), 1_700_000_000.25, "h", 3, 9)
    body = payload(d, SOURCE)
    assert body == {
        "version": 1,
        "id": "ab" * 16,
        "source": SOURCE,
        "class": "warn",
        "kind": "split-view",
        "subject": "example.com/log",
        "summary": "condition fork-1",
        "dedupe_key": "fork-1",
        "details": {"size": 7, "note": "x"},
        "raised_at": "2023-11-14T22:13:20.250Z",
        "attempt": 3,
        "attachment": base64.b64encode(b"\x00evidence").decode(),
        "attachment_sha256": hashlib.sha256(b"\x00evidence").hexdigest(),
    }
    record = log_record(d, SOURCE)
    assert "attachment" not in record and record == {
        k: v for k, v in body.items() if k != "attachment"
    }
    empty = payload(Delivery("cd" * 16, alert("k"), 0.0, "h", 1, 1), SOURCE)
    assert (empty["attachment"], empty["attachment_sha256"]) == ("", "")
