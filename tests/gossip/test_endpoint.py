"""POST /gossip/v1 on a real witness process: forged, replayed, oversized and malformed
messages get the right 4xx and change no state; genuine evidence is kept and served."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgpack
import pytest

from gossip.evidence import build_same_size
from gossip.messages import (
    MAX_MESSAGE_BYTES,
    Checkpoints,
    Evidence,
    Message,
    Payload,
    encode_message,
    next_sequence,
)
from tests.gossip.procs import (
    WitnessSpec,
    free_port,
    network_file,
    origin_path,
    start_witnesses,
    stop,
    write_witness,
)
from tests.witness.helpers import ToyLog
from tlog.keys import Ed25519Signer
from tlog.note import parse_note

LOG = ToyLog("endpoint.test/log", 12, fork_at=4)
WITNESS, PEER, OTHER = (
    Ed25519Signer(f"{name}.endpoint.test", hashlib.sha256(name.encode()).digest())
    for name in ("witness", "peer", "other")
)
STRANGER = Ed25519Signer("stranger.endpoint.test", bytes(32))


@dataclass
class Endpoint:
    url: str
    directory: Path
    http: httpx.Client

    def post(self, data: bytes, **kwargs: Any) -> httpx.Response:
        return self.http.post(f"{self.url}/gossip/v1", content=data, **kwargs)

    def state(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the gossip and witness databases, and what the HTTP API shows."""
        rows: dict[str, list[tuple[Any, ...]]] = {}
        for db, tables in (
            ("witness.gossip.db", ("meta", "seen", "notes", "evidence", "frozen")),
            ("witness.db", ("logs", "history")),
        ):
            conn = sqlite3.connect(f"file:{self.directory / db}?mode=ro", uri=True)
            try:
                for table in tables:
                    rows[f"{db}:{table}"] = conn.execute(f"SELECT * FROM {table}").fetchall()
            finally:
                conn.close()
        rows["evidence"] = [tuple(e.items()) for e in self.http.get(f"{self.url}/evidence").json()]
        return rows


def message(
    payloads: tuple[Payload, ...],
    *,
    sender: Ed25519Signer = PEER,
    signer: Ed25519Signer | None = None,
    recipient: str = WITNESS.name,
    when: float | None = None,
) -> bytes:
    now = time.time() if when is None else when
    msg = Message(sender.name, recipient, next_sequence(0, time.time()), int(now), payloads)
    return encode_message(msg, signer or sender)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    tmp = tmp_path_factory.mktemp("endpoint")
    specs = [WitnessSpec(k, free_port()) for k in (WITNESS, PEER, OTHER)]
    specs[0].logs.append({"origin": LOG.origin, "vkeys": [LOG.vkey]})
    network = network_file(tmp / "network.txt", specs)
    # No exchange starts within the test: the first waits at least half an hour.
    gossip = {"interval_seconds": 3600}
    config = write_witness(tmp / "w", specs[0], network, gossip=gossip, alerts={})
    [(proc, ready)] = start_witnesses([config])
    try:
        with httpx.Client(timeout=30) as http:
            resp = http.post(f"{ready['url']}/add-checkpoint", content=LOG.body(0, 8))
            assert resp.status_code == 200, resp.text
            yield Endpoint(ready["url"], config.parent, http)
    finally:
        assert stop([proc]) == [0]


def test_a_valid_message_is_accepted_once(endpoint: Endpoint) -> None:
    data = message((Checkpoints((LOG.checkpoint(8),)),))
    assert endpoint.post(data).status_code == 204
    before = endpoint.state()
    resp = endpoint.post(data)
    assert resp.status_code == 409 and "replay" in resp.text
    assert endpoint.state() == before


def rejected() -> list[tuple[str, bytes, int]]:
    cps = (Checkpoints((LOG.checkpoint(8),)),)
    body = msgpack.packb({"v": 1, "from": PEER.name}, use_bin_type=True)
    return [
        ("unknown sender", message(cps, sender=STRANGER), 403),
        ("forged signature", message(cps, signer=STRANGER), 403),
        ("addressed to another witness", message(cps, recipient=OTHER.name), 409),
        ("from the past", message(cps, when=time.time() - 3600), 409),
        ("not msgpack", b"\xc1 not a message", 400),
        ("wrong structure", msgpack.packb([body, bytes(64)], use_bin_type=True), 400),
        ("empty", b"", 400),
        ("signature cut short", message(cps)[:-1], 400),
    ]


@pytest.mark.parametrize(("what", "data", "status"), rejected(), ids=lambda v: str(v)[:30])
def test_bad_messages_are_rejected_and_change_nothing(
    endpoint: Endpoint, what: str, data: bytes, status: int
) -> None:
    before = endpoint.state()
    resp = endpoint.post(data)
    assert resp.status_code == status, (what, resp.text)
    assert endpoint.state() == before, what


def test_oversized_messages_are_refused_before_they_are_read(endpoint: Endpoint) -> None:
    before = endpoint.state()

    def chunks() -> Iterator[bytes]:
        for _ in range(9):
            yield bytes(1 << 20)

    # The witness answers before reading the rest, then drops the connection: one each.
    for body in (b"\x00" * (MAX_MESSAGE_BYTES + 1), chunks()):
        with httpx.Client(timeout=30) as http:
            assert http.post(f"{endpoint.url}/gossip/v1", content=body).status_code == 413
    assert endpoint.http.get(f"{endpoint.url}/gossip/v1").status_code == 405
    assert endpoint.state() == before
    metrics = endpoint.http.get(f"{endpoint.url}/metrics").text
    for reason in ("replay", "unknown_sender", "bad_signature", "malformed", "oversized"):
        assert f'witnessnet_gossip_messages_rejected_total{{reason="{reason}"}}' in metrics


def test_evidence_is_reverified_kept_served_and_freezes_the_log(endpoint: Endpoint) -> None:
    fork = LOG.checkpoint(8, forked=True)
    file = build_same_size(LOG.checkpoint(8), fork, [LOG.signer.verifier()])
    not_proof = file.replace(fork, LOG.checkpoint(8))
    before = endpoint.state()
    assert endpoint.post(message((Evidence(not_proof),))).status_code == 204
    assert endpoint.state()["evidence"] == before["evidence"]

    assert endpoint.post(message((Evidence(file),))).status_code == 204
    [held] = endpoint.http.get(f"{endpoint.url}/evidence").json()
    assert held["origin"] == LOG.origin and held["froze_log"] and held["source"] == PEER.name
    assert endpoint.http.get(f"{endpoint.url}/evidence/{held['fingerprint']}").content == file
    assert endpoint.http.get(f"{endpoint.url}/evidence/{'0' * 64}").status_code == 404
    assert endpoint.http.get(f"{endpoint.url}/evidence/xyz").status_code == 404
    resp = endpoint.http.post(f"{endpoint.url}/add-checkpoint", content=LOG.body(8, 12))
    assert resp.status_code == 403 and "frozen" in resp.text
    served = endpoint.http.get(f"{endpoint.url}/{origin_path(LOG.origin)}/checkpoint")
    assert parse_note(served.content).text == parse_note(LOG.checkpoint(8)).text
