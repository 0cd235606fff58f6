"""The real `witnessnet witness serve` daemon over HTTP: the C2SP status table, the vectors,
bad input that must leave the database unchanged, restarts."""

from __future__ import annotations

import base64
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio

from tests.vectors import litewitness_vkey, load
from tests.witness.helpers import WITNESS_KEY, ToyLog, WitnessProcess, write_config
from tlog.checkpoint import Checkpoint, origin_hash
from tlog.cosignature import parse_cosigner_vkey
from tlog.keys import Ed25519Signer, parse_vkey
from tlog.note import Verifier, parse_note, sign_note, verify_note
from witness import server as witness_server
from witness.config import load_config
from witness.daemon import run_witness
from witness.decide import AddCheckpointRequest

LITE = load("litewitness-add-checkpoint-sequence.txt")
MONKEYS = load("monkeys-consistency-5-to-8.txt")
LITE_ORIGIN = litewitness_vkey(LITE).split("+")[0]
TOY = ToyLog("example.com/server", 64)
FRESH = ToyLog("example.com/fresh", 8)
LIMITED = ToyLog("example.com/limited", 8)
READ = ToyLog("example.com/read", 8)
SIZE = "text/x.tlog.size"


@pytest.fixture(scope="module")
def witness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WitnessProcess]:
    directory = tmp_path_factory.mktemp("witness")
    config = write_config(
        directory,
        [
            (LITE_ORIGIN, [litewitness_vkey(LITE)], None),
            ("monkeys", [MONKEYS.line("log-vkey")], None),
            (TOY.origin, [TOY.vkey], None),
            (FRESH.origin, [FRESH.vkey], None),
            (LIMITED.origin, [LIMITED.vkey], 24),
            (READ.origin, [READ.vkey], None),
        ],
    )
    process = WitnessProcess(config, "--init")
    yield process
    assert process.stop() == 0


@pytest.fixture
def client(witness: WitnessProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=witness.url, timeout=10) as c:
        yield c


def cosigner(witness: WitnessProcess) -> Verifier:
    return parse_cosigner_vkey(witness.ready["vkey"])


def check_cosigned(witness: WitnessProcess, note: bytes, response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text.startswith("— example.com/witness ")
    verify_note(parse_note(note + response.content), [cosigner(witness)])


def database(witness: WitnessProcess) -> tuple[list, list]:
    """The stored state and history, read straight from the SQLite file (read-only)."""
    path = witness.log_path.parent / "witness.db"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        logs = conn.execute("SELECT * FROM logs ORDER BY origin").fetchall()
        history = conn.execute("SELECT * FROM history ORDER BY id").fetchall()
    finally:
        conn.close()
    return logs, history


def logs_view(client: httpx.Client) -> dict[str, dict]:
    return {entry["origin"]: entry for entry in client.get("/logs").json()["logs"]}


def test_litewitness_sequence(witness: WitnessProcess, client: httpx.Client) -> None:
    """The litewitness end-to-end requests in order; request 3 gets the spec's 404."""
    want = {
        "request-1": (200, "— example.com/witness"),
        "request-2": (403, "invalid signature"),
        "request-3": (404, "unknown log"),
        "request-4": (422, "consistency proof"),
        "request-5": (422, "consistency proof"),
        "request-6": (200, "— example.com/witness"),
        "request-7": (409, None),
        "request-8": (200, "— example.com/witness"),
        "request-9": (409, None),
    }
    for name, (status, needle) in want.items():
        body = LITE[name]
        response = client.post("/add-checkpoint", content=body)
        assert response.status_code == status, (name, response.text)
        if status == 200:
            check_cosigned(witness, body.split(b"\n\n", 1)[1], response)
        elif status == 409:
            assert response.headers["content-type"] == SIZE
            assert response.text == {"request-7": "3\n", "request-9": "5\n"}[name]
        if needle is not None:
            assert needle in response.text, (name, response.text)
    assert logs_view(client)[LITE_ORIGIN]["size"] == 5


def test_monkeys_5_to_8(witness: WitnessProcess, client: httpx.Client) -> None:
    five, eight = MONKEYS["checkpoint-5"], MONKEYS["checkpoint-8"]
    check_cosigned(witness, five, client.post("/add-checkpoint", content=b"old 0\n\n" + five))
    response = client.post("/add-checkpoint", content=MONKEYS["add-checkpoint-request"])
    check_cosigned(witness, eight, response)
    served = client.get(f"/{origin_hash('monkeys')}/checkpoint")
    assert served.status_code == 200
    note = parse_note(served.content)
    assert note.text.encode() == eight.split(b"\n\n")[0] + b"\n"
    verify_note(note, [parse_vkey(MONKEYS.line("log-vkey"))])
    verify_note(note, [cosigner(witness)])
    # The witness's key published as type 0x01 verifies the same cosignature (0x04 key ID).
    verify_note(note, [parse_cosigner_vkey(WITNESS_KEY.vkey())])


def _other_key_note(size: int) -> bytes:
    """TOY's checkpoint text signed by a different key under TOY's key name."""
    impostor = Ed25519Signer(TOY.origin, bytes(32))
    return sign_note(Checkpoint(TOY.origin, size, TOY.root(size)).body(), [impostor]).to_bytes()


def _bad_requests() -> list[tuple[str, bytes, int, str | None]]:
    good = TOY.request(10, 20)
    truncated = AddCheckpointRequest(10, good.proof[:-1], good.note).to_bytes()
    flipped = AddCheckpointRequest(10, (bytes(32), *good.proof[1:]), good.note).to_bytes()
    fork = ToyLog(TOY.origin, 64, fork_at=5)  # same origin, so the same key as TOY
    unknown = ToyLog("example.com/unknown", 4)
    return [
        ("empty body", b"", 400, "no empty line"),
        ("no old line", b"\n\n" + good.note, 400, "old <size>"),
        ("old not a number", b"old ten\n\n" + good.note, 400, "old size"),
        ("proof not base64", b"old 10\n!!!!\n\n" + good.note, 400, "proof hash"),
        ("checkpoint garbage", b"old 10\n\ngarbage\n\n- x y\n", 400, "checkpoint"),
        ("binary", bytes(range(256)) * 8, 400, None),
        (
            "too many proof lines",
            TOY.request(10, 20)
            .to_bytes()
            .replace(
                b"old 10\n", b"old 10\n" + b"\n".join([base64.b64encode(bytes(32))] * 64) + b"\n"
            ),
            400,
            "at most 63",
        ),
        (
            "old after new",
            TOY.request(10, 20).to_bytes().replace(b"old 10", b"old 30"),
            400,
            "larger than",
        ),
        ("wrong key", b"old 10\n\n" + _other_key_note(20), 403, "invalid signature"),
        (
            "tampered checkpoint",
            good.to_bytes().replace(b"\n20\n", b"\n21\n"),
            403,
            "invalid signature",
        ),
        ("truncated proof", truncated, 422, "consistency proof"),
        ("corrupted proof", flipped, 422, "consistency proof"),
        ("inconsistent checkpoint", fork.body(10, 20, forked=True), 422, "consistency proof"),
        ("same size other root", fork.body(10, 10, forked=True), 409, None),
        ("stale old size", TOY.body(5, 20), 409, None),
        ("unknown origin", unknown.body(0, 4), 404, "unknown log"),
        (
            "proof with old 0",
            FRESH.request(0, 4)
            .to_bytes()
            .replace(b"old 0\n", b"old 0\n" + base64.b64encode(bytes(32)) + b"\n"),
            422,
            "consistency proof",
        ),
    ]


def test_bad_requests_leave_state_unchanged(witness: WitnessProcess, client: httpx.Client) -> None:
    check_cosigned(
        witness, TOY.checkpoint(10), client.post("/add-checkpoint", content=TOY.body(0, 10))
    )
    view, stored = logs_view(client), database(witness)
    for name, body, status, needle in _bad_requests():
        response = client.post("/add-checkpoint", content=body)
        assert response.status_code == status, (name, response.text)
        if status == 409:
            assert response.headers["content-type"] == SIZE
            assert response.text == "10\n", name
        if needle is not None:
            assert needle in response.text, (name, response.text)
        assert logs_view(client) == view, name
        assert database(witness) == stored, name
    metrics = client.get("/metrics").text
    for reason in ("malformed", "bad_signature", "bad_proof", "fork", "conflict", "unknown_log"):
        assert f'witness_rejections_total{{reason="{reason}"}}' in metrics


def test_huge_bodies_get_413(witness: WitnessProcess, client: httpx.Client) -> None:
    before = database(witness)
    huge = b"old 0\n\n" + b"x" * (64 * 1024)
    response = client.post("/add-checkpoint", content=huge)
    assert response.status_code == 413
    assert "over 65536 bytes" in response.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap applies while reading
        for _ in range(100):
            yield b"y" * 4096

    response = client.post("/add-checkpoint", content=chunks())
    assert response.status_code == 413
    assert database(witness) == before


def test_rate_limit(witness: WitnessProcess, client: httpx.Client) -> None:
    assert client.post("/add-checkpoint", content=LIMITED.body(0, 1)).status_code == 200
    assert client.post("/add-checkpoint", content=LIMITED.body(1, 2)).status_code == 200
    response = client.post("/add-checkpoint", content=LIMITED.body(2, 3))
    assert response.status_code == 429
    assert 3000 < int(response.headers["retry-after"]) <= 3600
    assert logs_view(client)[LIMITED.origin]["size"] == 2


def test_read_endpoints(witness: WitnessProcess, client: httpx.Client) -> None:
    check_cosigned(
        witness, READ.checkpoint(6), client.post("/add-checkpoint", content=READ.body(0, 6))
    )
    assert client.get("/healthz").text == "ok\n"
    assert client.get("/add-checkpoint").status_code == 405
    assert client.get(f"/{origin_hash('example.com/nope')}/checkpoint").status_code == 404
    assert client.get("/not-a-hash/checkpoint").status_code == 404
    assert client.get(f"/{origin_hash(FRESH.origin)}/checkpoint").status_code == 404
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "example.com/witness" in page.text and READ.origin in page.text
    entry = logs_view(client)[READ.origin]
    assert entry["size"] == 6 and entry["trusted"] is True
    assert base64.b64decode(entry["root"]) == READ.root(6)
    assert isinstance(entry["last_advance"], float)
    assert logs_view(client)[FRESH.origin] == {
        "origin": FRESH.origin,
        "size": 0,
        "root": None,
        "last_advance": None,
        "trusted": True,
    }
    served = client.get(f"/{origin_hash(READ.origin)}/checkpoint")
    assert served.status_code == 200
    assert served.content.startswith(READ.checkpoint(6))
    verify_note(parse_note(served.content), [cosigner(witness)])
    metrics = client.get("/metrics").text
    assert f'witness_log_size{{origin="{READ.origin}"}} 6.0' in metrics
    assert "witness_log_last_advance_age_seconds" in metrics
    assert 'witness_http_requests_total{endpoint="/add-checkpoint",status="200"}' in metrics


def test_restart_continues_from_database(tmp_path: Path) -> None:
    log = ToyLog("example.com/restart", 32)
    config = write_config(tmp_path, [(log.origin, [log.vkey], None)])
    first = WitnessProcess(config, "--init")
    try:
        for old, size in ((0, 4), (4, 16)):
            assert (
                httpx.post(first.url + "/add-checkpoint", content=log.body(old, size)).status_code
                == 200
            )
    finally:
        assert first.stop() == 0
    second = WitnessProcess(config)  # no --init: the database exists
    try:
        with httpx.Client(base_url=second.url) as client:
            assert logs_view(client)[log.origin]["size"] == 16
            stale = client.post("/add-checkpoint", content=log.body(4, 20))
            assert (stale.status_code, stale.text) == (409, "16\n")
            assert client.post("/add-checkpoint", content=log.body(16, 20)).status_code == 200
    finally:
        assert second.stop() == 0


def test_missing_database_refuses_to_start(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    result = subprocess.run(
        [sys.executable, "-m", "witnessnet", "witness", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "witness.db does not exist" in result.stderr
    assert "--init" in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "witness.db").exists()


def test_init_then_serve(tmp_path: Path) -> None:
    directory = tmp_path / "w"
    argv = [sys.executable, "-m", "witnessnet", "witness", "init", "--dir", str(directory)]
    result = subprocess.run([*argv, "--name", "example.com/w"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    vkeys = dict(line.split(": ", 1) for line in result.stdout.splitlines() if "vkey" in line)
    cosigner_vkey = vkeys["witness vkey (cosignature/v1, type 0x04)"].strip()
    plain_vkey = vkeys["witness vkey (Ed25519, type 0x01)"].strip()
    assert parse_cosigner_vkey(plain_vkey) == parse_cosigner_vkey(cosigner_vkey)
    assert (directory / "witness.key").stat().st_mode & 0o777 == 0o600
    again = subprocess.run([*argv, "--name", "example.com/w"], capture_output=True, text=True)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr
    config = directory / "witness.toml"
    config.write_text(config.read_text().replace("127.0.0.1:7380", "127.0.0.1:0"))
    process = WitnessProcess(config)  # the database init created is enough
    try:
        assert process.ready["vkey"] == cosigner_vkey
        assert httpx.get(process.url + "/logs").json() == {"witness": "example.com/w", "logs": []}
    finally:
        assert process.stop() == 0


async def test_slow_body_gets_408(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process daemon (to shorten the body timeout): a client that stalls mid-body."""
    monkeypatch.setattr(witness_server, "BODY_TIMEOUT", 0.3)
    config = load_config(write_config(tmp_path, [(TOY.origin, [TOY.vkey], None)]))
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        _, binds = await nursery.start(
            partial(run_witness, config, init=True, shutdown_trigger=stop.wait)
        )
        port = int(binds[0].rsplit(":", 1)[1])
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            head = b"POST /add-checkpoint HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n"
            await stream.send_all(head + b"old 0\n")
            response = b""
            with trio.fail_after(5):
                while b"\r\n\r\n" not in response:
                    response += await stream.receive_some(4096)
        assert response.startswith(b"HTTP/1.1 408 ")
        stop.set()
