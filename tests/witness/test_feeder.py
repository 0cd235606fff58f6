"""Logs and witnesses as real processes on 127.0.0.1: a log pushing to its witnesses and
publishing their cosignatures, a witness that is down, a feeder following a log that does
not push, log list URLs, and a feeder facing a split view. Plus the feeder's pure rules."""

from __future__ import annotations

import hashlib
import http.server
import itertools
import json
import socket
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from pathlib import Path

import httpx
import pytest
import trio

from tests.witness.helpers import ToyLog, WitnessProcess, write_config
from tlog.checkpoint import Checkpoint, open_checkpoint, origin_hash
from tlog.cosignature import parse_cosigner_vkey
from tlog.errors import CheckpointError, InvalidSignatureError, ProofError, TileError
from tlog.keys import Ed25519Signer, generate_signer, parse_vkey
from tlog.merkle import verify_consistency
from tlog.note import parse_note, sign_note
from tlog.policy import parse_policy, verify_cosigned_checkpoint
from tlog.tiles_client import LogStatusError, LogUnavailableError
from witness.decide import LogState
from witness.feeder import MAX_BACKOFF, backoff, error_kind, old_size_for
from witnessnet.commands.key import write_key_file
from witnessnet.demo.procs import LogProcess, log_server

ORIGIN = "example.com/fed-log"
DEADLINE = 30
FAST = {"poll_interval": 0.2, "log_list_interval": 0.2}


def witness_key(i: int) -> Ed25519Signer:
    return Ed25519Signer(f"example.com/witness{i}", hashlib.sha256(b"witness %d" % i).digest())


@pytest.fixture
def log_key(tmp_path: Path) -> Ed25519Signer:
    signer = generate_signer(ORIGIN)
    write_key_file(tmp_path / "log.key", signer)
    return signer


def witness_config(
    tmp_path: Path, i: int, log_key: Ed25519Signer, tiles_url: str | None = None
) -> Path:
    tiles = {ORIGIN: tiles_url} if tiles_url else None
    logs = [(ORIGIN, [log_key.vkey()], None)]
    return write_config(tmp_path / f"w{i}", logs, key=witness_key(i), tiles=tiles, top=FAST)


@contextmanager
def stopping(processes: list[WitnessProcess]) -> Iterator[list[WitnessProcess]]:
    """Stop (SIGTERM) the witnesses in the list that still run when the block ends."""
    try:
        yield processes
    finally:
        for w in processes:
            if w.proc.poll() is None:
                w.stop()


def serve_log(tmp_path: Path, *args: str) -> AbstractAsyncContextManager[LogProcess]:
    extra = ["--batch-interval", "0.05", *args]
    return log_server(tmp_path / "log", tmp_path / "log.key", ORIGIN, extra)


def witness_args(ws: list[WitnessProcess]) -> list[str]:
    args = []
    for w in ws:
        args += ["--witness", w.url, "--witness-vkey", w.ready["vkey"]]
    return args


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until `check` is true, for at most DEADLINE seconds."""
    with trio.move_on_after(DEADLINE):
        while not await check():
            await trio.sleep(0.05)
        return
    pytest.fail(f"timed out waiting for {what}")


async def add(http: httpx.AsyncClient, url: str, count: int, tag: str) -> None:
    """Add `count` entries concurrently; return once all are in a published checkpoint."""

    async def one(i: int) -> None:
        response = await http.post(f"{url}/add", content=f"{tag} {i}".encode())
        assert response.status_code == 200, response.text

    async with trio.open_nursery() as nursery:
        for i in range(count):
            nursery.start_soon(one, i)


async def stored_size(http: httpx.AsyncClient, w: WitnessProcess, origin: str = ORIGIN) -> int:
    entries = (await http.get(f"{w.url}/logs")).json()["logs"]
    return next((e["size"] for e in entries if e["origin"] == origin), -1)


def cosigners(note: bytes, ws: list[WitnessProcess]) -> set[int]:
    """The indices of the witnesses whose cosignatures on `note` verify."""
    parsed = parse_note(note)
    text = parsed.text.encode()
    found = set()
    for i, w in enumerate(ws):
        v = parse_cosigner_vkey(w.ready["vkey"])
        for s in parsed.signatures:
            if (s.name, s.key_id) == (v.name, v.key_id) and v.verify(text, s.signature):
                found.add(i)
    return found


def database(w: WitnessProcess, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{w.log_path.parent / 'witness.db'}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_log_publishes_checkpoints_cosigned_by_its_three_witnesses(
    tmp_path: Path, log_key: Ed25519Signer
) -> None:
    with stopping([]) as ws:
        ws += [WitnessProcess(witness_config(tmp_path, i, log_key), "--init") for i in range(3)]
        async with httpx.AsyncClient(timeout=10) as http:
            for round_, count in enumerate((5, 300)):
                async with serve_log(tmp_path, *witness_args(ws)) as log:
                    await add(http, log.url, count, f"round {round_}")
                    size = (5, 305)[round_]

                    async def cosigned_by_all(url: str = log.url, size: int = size) -> bool:
                        note = (await http.get(f"{url}/checkpoint")).content
                        cp = open_checkpoint(note, [parse_vkey(log.vkey)]).checkpoint
                        return cp.size == size and cosigners(note, ws) == {0, 1, 2}

                    await eventually(cosigned_by_all, f"size {size} cosigned by 3 witnesses")
                    note = (await http.get(f"{log.url}/checkpoint")).content
                    policy = "\n".join(
                        [
                            f"log {log.vkey}",
                            *(f"witness w{i} {w.ready['vkey']}" for i, w in enumerate(ws)),
                            "group all all w0 w1 w2",
                            "quorum all",
                        ]
                    )
                    cp, names = verify_cosigned_checkpoint(note, parse_policy(policy + "\n"))
                    assert (cp.size, names) == (size, {"w0", "w1", "w2"})
                    for w in ws:
                        assert await stored_size(http, w) == size
                # The second round restarts the log on a checkpoint that carries cosignatures.
            served = await http.get(f"{ws[0].url}/{origin_hash(ORIGIN)}/checkpoint")
            assert served.content.startswith(parse_note(note).text.encode())


async def test_a_witness_that_is_down_does_not_block_the_log(
    tmp_path: Path, log_key: Ed25519Signer
) -> None:
    """One witness answers, one is stopped and restarted, one accepts connections and never
    answers: the log sequences throughout and publishes what it gets."""
    hole = socket.create_server(("127.0.0.1", 0))  # listens; never accepts, never answers
    with hole, stopping([]) as ws:
        ws += [WitnessProcess(witness_config(tmp_path, i, log_key), "--init") for i in range(2)]
        hole_url = f"http://127.0.0.1:{hole.getsockname()[1]}"
        args = [*witness_args(ws), "--witness", hole_url, "--witness-vkey"]
        args += [witness_key(2).vkey(), "--witness-timeout", "0.5"]
        async with (
            httpx.AsyncClient(timeout=10) as http,
            serve_log(tmp_path, *args) as log,
        ):

            async def cosigned(size: int, want: set[int]) -> None:
                async def check() -> bool:
                    note = (await http.get(f"{log.url}/checkpoint")).content
                    cp = open_checkpoint(note, [parse_vkey(log.vkey)]).checkpoint
                    return cp.size == size and cosigners(note, ws) == want

                await eventually(check, f"size {size} cosigned by witnesses {want}")

            await add(http, log.url, 3, "a")
            await cosigned(3, {0, 1})
            port = ws[1].ready["port"]
            ws[1].stop()
            for batch in range(3):
                await add(http, log.url, 2, f"b{batch}")
            await cosigned(9, {0})
            config = ws[1].log_path.parent / "witness.toml"
            config.write_text(config.read_text().replace(":0", f":{port}"))
            ws[1] = WitnessProcess(config)
            await add(http, log.url, 2, "c")
            await cosigned(11, {0, 1})
            assert await stored_size(http, ws[1]) == 11


async def test_feeder_follows_a_log_that_does_not_push(
    tmp_path: Path, log_key: Ed25519Signer
) -> None:
    unreachable = socket.create_server(("127.0.0.1", 0))
    dead_url = f"http://127.0.0.1:{unreachable.getsockname()[1]}/"
    unreachable.close()
    dead = ToyLog("example.com/unreachable", 1)
    async with (
        httpx.AsyncClient(timeout=10) as http,
        serve_log(tmp_path) as log,
    ):
        path = write_config(
            tmp_path / "w",
            [(ORIGIN, [log_key.vkey()], None), (dead.origin, [dead.vkey], None)],
            tiles={ORIGIN: log.url, dead.origin: dead_url},
            top=FAST,
        )
        with stopping([WitnessProcess(path, "--init")]) as (w,):
            for tag, count, size in (("a", 100, 100), ("b", 200, 300), ("c", 1, 301)):
                await add(http, log.url, count, tag)

                async def caught_up(size: int = size) -> bool:
                    return await stored_size(http, w) == size

                await eventually(caught_up, f"the witness to store size {size}")
            served = await http.get(f"{w.url}/{origin_hash(ORIGIN)}/checkpoint")
            log_note = (await http.get(f"{log.url}/checkpoint")).content
            assert served.content.startswith(log_note)
            assert cosigners(served.content, [w]) == {0}
            history = database(w, "SELECT old_size, new_size, length(proof) FROM history")
            # Each advance starts where the last one ended; all but the first carry a proof.
            assert history[0][0] == 0 and history[-1][1] == 301
            assert all(a[1] == b[0] for a, b in itertools.pairwise(history))
            assert all(proof_len > 0 for old, new, proof_len in history if 0 < old < new)
            assert {100, 300} <= {new for _, new, _ in history}
            # The dead log's feeder counts a poll only after its retries (about 0.7 s), which
            # may be later than the live log's last advance.
            dead_errors = (
                f'witness_feeder_errors_total{{kind="unavailable",origin="{dead.origin}"}}'
            )

            async def dead_counted() -> bool:
                return dead_errors in (await http.get(f"{w.url}/metrics")).text

            await eventually(dead_counted, "the unreachable log's poll failure to be counted")
            metrics = (await http.get(f"{w.url}/metrics")).text
            errors = [m for m in metrics.splitlines() if m.startswith("witness_feeder_errors")]
            assert not any(ORIGIN in m for m in errors), errors
            assert (await http.get(f"{w.url}/healthz")).text == "ok\n"


class ListServer:
    """Serves `body` at /list over HTTP from a thread, for the witness to poll."""

    def __init__(self) -> None:
        self.body = b""
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/list"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ListServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def log_list(*entries: tuple[str, str]) -> bytes:
    lines = ["logs/v0"]
    for origin, vkey in entries:
        lines += [f"vkey {vkey}", f"origin {origin}", "qpd 86400", "contact test"]
    return ("\n".join(lines) + "\n").encode()


async def test_log_list_url_only_ever_adds(tmp_path: Path) -> None:
    a, b, c = (ToyLog(f"example.com/listed-{n}", 8) for n in "abc")
    rekey = Ed25519Signer(b.origin, hashlib.sha256(b"another key").digest())
    with ListServer() as lists:
        lists.body = log_list((a.origin, a.vkey), (b.origin, b.vkey))
        top = {"log_lists": [lists.url], **FAST}
        config = write_config(tmp_path / "w", [], top=top)
        with stopping([WitnessProcess(config, "--init")]) as ws:
            async with httpx.AsyncClient(timeout=10, base_url=ws[0].url) as http:

                async def trusted() -> set[str]:
                    entries = (await http.get("/logs")).json()["logs"]
                    return {e["origin"] for e in entries if e["trusted"]}

                async def lists_a_and_b() -> bool:
                    return await trusted() == {a.origin, b.origin}

                await eventually(lists_a_and_b, "the list's logs to be trusted")
                for log in (a, b):
                    response = await http.post("/add-checkpoint", content=log.body(0, 4))
                    assert response.status_code == 200, response.text
                # The list drops a, re-keys b and adds c: only c changes anything.
                lists.body = log_list((b.origin, rekey.vkey()), (c.origin, c.vkey))

                async def lists_c() -> bool:
                    return c.origin in await trusted()

                await eventually(lists_c, "the new log to be trusted")
                assert await trusted() == {a.origin, b.origin, c.origin}
                for log in (a, b):
                    response = await http.post("/add-checkpoint", content=log.body(4, 8))
                    assert response.status_code == 200, response.text
                # b's checkpoint signed by the key the list now names is not b's.
                rekeyed = sign_note(parse_note(b.checkpoint(8)).text, [rekey]).to_bytes()
                response = await http.post("/add-checkpoint", content=b"old 8\n\n" + rekeyed)
                assert response.status_code == 403, response.text
                # A list that stops parsing is counted; what it added stays.
                lists.body = b"not a log list\n"

                async def counted() -> bool:
                    return (
                        'witness_log_list_errors_total{kind="malformed"'
                        in (await http.get("/metrics")).text
                    )

                await eventually(counted, "the malformed list to be counted")
            ws[0].stop()
            # After a restart, with the list still broken, the listed logs are still trusted.
            ws.append(WitnessProcess(config))
            async with httpx.AsyncClient(timeout=10, base_url=ws[1].url) as http:
                entries = (await http.get("/logs")).json()["logs"]
                assert {e["origin"] for e in entries if e["trusted"]} == {
                    a.origin,
                    b.origin,
                    c.origin,
                }
                response = await http.post("/add-checkpoint", content=c.body(0, 2))
                assert response.status_code == 200, response.text


async def test_feeder_refuses_a_fork_and_keeps_it(tmp_path: Path, log_key: Ed25519Signer) -> None:
    """The log's tiles_url starts serving a split view (the fork listener): the witness
    stays on the main history and stores the fork's signed checkpoint with its proof."""
    async with (
        httpx.AsyncClient(timeout=10) as http,
        serve_log(tmp_path, "--fork-at", "20", "--fork-listen", "127.0.0.1:0") as log,
    ):
        await add(http, log.url, 40, "main")

        async def fork_mirrored() -> bool:
            note = (await http.get(f"{log.fork_url}/checkpoint")).content
            return open_checkpoint(note, [parse_vkey(log.vkey)]).checkpoint.size == 40

        await eventually(fork_mirrored, "the fork to mirror the main log")
        await add(http, log.fork_url, 2, "fork only")
        main_note = (await http.get(f"{log.url}/checkpoint")).content
        fork_note = (await http.get(f"{log.fork_url}/checkpoint")).content

        config = witness_config(tmp_path, 0, log_key, tiles_url=log.url)
        with stopping([WitnessProcess(config, "--init")]) as ws:

            async def at_40() -> bool:
                return await stored_size(http, ws[0]) == 40

            await eventually(at_40, "the witness to follow the main log")
            ws[0].stop()
            config.write_text(config.read_text().replace(log.url, log.fork_url))
            ws.append(WitnessProcess(config))

            async def kept() -> bool:
                return bool(database(ws[1], "SELECT 1 FROM rejected"))

            await eventually(kept, "the fork's checkpoint to be kept")
            columns = "reason, old_size, new_size, checkpoint, proof, cosigned"
            rows = database(ws[1], f"SELECT {columns} FROM rejected")
            assert len(rows) == 1
            reason, old, new, checkpoint, proof, cosigned = rows[0]
            assert (reason, old, new) == ("bad_proof", 40, 42)
            assert checkpoint == fork_note and cosigned == main_note
            main = open_checkpoint(cosigned, [parse_vkey(log.vkey)]).checkpoint
            fork = open_checkpoint(checkpoint, [parse_vkey(log.vkey)]).checkpoint
            hashes = [proof[i : i + 32] for i in range(0, len(proof), 32)]
            with pytest.raises(ProofError):
                verify_consistency(old, new, main.root, fork.root, hashes)
            assert await stored_size(http, ws[1]) == 40
            metrics = (await http.get(f"{ws[1].url}/metrics")).text
            assert f'witness_feeder_errors_total{{kind="rejected",origin="{ORIGIN}"}}' in metrics
            assert 'witness_rejections_total{reason="bad_proof"}' in metrics
            errors = [json.loads(line) for line in ws[1].log_path.read_text().splitlines()]
            assert any(e.get("reason") == "bad_proof" and e["level"] == "error" for e in errors)


@pytest.mark.parametrize(
    ("stored", "offered", "want"),
    [
        ((0, None), (0, b"a"), 0),  # never cosigned: old 0, whatever the size
        ((0, None), (7, b"a"), 0),
        ((7, b"a"), (7, b"a"), None),  # the stored checkpoint: nothing to do
        ((7, b"a"), (5, b"b"), None),  # older: a lagging cache, nothing to prove
        ((7, b"a"), (9, b"b"), 7),  # newer: prove from the stored size
        ((7, b"a"), (7, b"b"), 7),  # same size, other root: submit it, to refuse and keep it
    ],
)
def test_old_size_for(
    stored: tuple[int, bytes | None], offered: tuple[int, bytes], want: int | None
) -> None:
    size, root = stored
    state = LogState("o", size, None if root is None else root * 32)
    cp = Checkpoint("o", offered[0], offered[1] * 32)
    assert old_size_for(state, cp) == want


def test_backoff_and_error_kinds() -> None:
    assert backoff(30, 0) == 30
    assert [backoff(30, n) for n in (1, 2, 3)] == [60, 120, 240]
    assert backoff(30, 50) == MAX_BACKOFF
    assert backoff(2000, 3) == 2000  # never more than the interval when that is longer
    assert error_kind(trio.TooSlowError()) == "timeout"
    assert error_kind(LogUnavailableError("u", "refused")) == "unavailable"
    assert error_kind(LogStatusError("u", 500, "")) == "http_status"
    assert error_kind(InvalidSignatureError("x")) == "bad_checkpoint"
    assert error_kind(CheckpointError("x")) == "bad_checkpoint"
    assert error_kind(TileError("x")) == "bad_tiles"
    assert error_kind(RuntimeError("x")) == "internal"
