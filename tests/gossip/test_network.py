"""Eight witness processes gossiping on 127.0.0.1 while reference logs show them forks.

Logs, each served by `witnessnet log serve` with its fork drill; six witnesses follow
the main log through their feeders, two follow the fork:

    A  fork at 5, both sides at size 10: a same-size fork
    B  fork at 5, main at 8, fork at 11: a different-size fork from a power-of-two
       size, which only the fork's side can prove (with the root of its first 8 leaves)
    C  fork at 3, both sides at 6, and witness 5 (which follows the main log) also
       cosigns the fork: a witness that double-cosigns

and two toy logs fed by the test: D, whose tiles refuse (witnesses 0, 1) or stall
(2, 3) while witnesses 4-7 hold a newer checkpoint, and E, which every witness holds
at the same size. Every witness must end up holding verified evidence of A, B and C,
page exactly once per fork (and once for witness 5), warn about D and never page
about it, and serve E with all eight cosignatures.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gossip.messages import Checkpoints, Message, encode_message, next_sequence
from tests.gossip.procs import (
    ForkedLog,
    Receiver,
    WitnessSpec,
    checkpoint_size,
    free_port,
    grow,
    network_file,
    origin_path,
    start_forked_log,
    start_witnesses,
    stop,
    wait_for,
    write_witness,
)
from tests.witness.helpers import ToyLog
from tlog.cosignature import CosignatureV1Signer
from tlog.keys import Ed25519Signer
from tlog.note import parse_note, verify_note

A, B, C = "a.fork.test/log", "b.fork.test/log", "c.fork.test/log"
FORKED = (A, B, C)
D = ToyLog("d.refusing.test/log", 9)
E = ToyLog("e.quiet.test/log", 7)
COUNT = 8
ON_FORK = (6, 7)
EQUIVOCATOR = 5
KEYS = [
    Ed25519Signer(f"w{i}.gossip.test", hashlib.sha256(f"gossip witness {i}".encode()).digest())
    for i in range(COUNT)
]
GOSSIP = {"interval_seconds": 0.3, "timeout_seconds": 1, "proof_attempts": 2}
DEADLINE = 90.0


@dataclass
class Net:
    receiver: Receiver
    logs: dict[str, ForkedLog]
    urls: list[str]
    http: httpx.Client

    def evidence(self, i: int) -> list[dict[str, Any]]:
        return list(self.http.get(f"{self.urls[i]}/evidence").json())

    def proofs(self, i: int, origin: str) -> list[dict[str, Any]]:
        return [e for e in self.evidence(i) if e["origin"] == origin and e["kind"] != "suspicion"]


def feed(http: httpx.Client, url: str, log: ToyLog, size: int) -> None:
    """add-checkpoint, from the size the witness reports when it has one already."""
    old = 0
    for _ in range(3):
        resp = http.post(f"{url}/add-checkpoint", content=log.body(old, size))
        if resp.status_code == 200:
            return
        assert resp.status_code == 409, resp.text
        old = int(resp.text)
    raise AssertionError(f"could not feed {log.origin} at {size} to {url}")


def gossip_as(net: Net, sender: int, recipient: int, note: bytes) -> None:
    """POST a gossip message carrying `note`, signed as witness `sender`."""
    for _ in range(5):
        now = time.time()
        message = Message(
            KEYS[sender].name, KEYS[recipient].name, next_sequence(0, now), int(now),
            (Checkpoints((note,)),),
        )  # fmt: skip
        data = encode_message(message, KEYS[sender])
        resp = net.http.post(f"{net.urls[recipient]}/gossip/v1", content=data)
        if resp.status_code != 409:  # 409: the real witness just sent a later sequence number
            assert resp.status_code in (200, 204), resp.text
            return
    raise AssertionError(f"witness {recipient} kept refusing gossip from witness {sender}")


def inject_double_cosignature(net: Net) -> None:
    """Witness 5's key cosigns both sides of C, and 'witness 5' tells every other witness.

    A witness that holds C's main checkpoint proves the equivocation at once; the
    others take the cosignature into their view and prove it in later exchanges.
    """

    def size_of_c(i: int) -> int:
        logs = net.http.get(f"{net.urls[i]}/logs").json()["logs"]
        return next(e["size"] for e in logs if e["origin"] == C)

    # A witness that learnt of the fork before its feeder brought C in never holds C.
    for i in range(COUNT):
        wait_for(f"witness {i} to hold C", lambda i=i: size_of_c(i) == 6 or net.proofs(i, C))
    cosigner = CosignatureV1Signer(KEYS[EQUIVOCATOR])
    for url in (net.logs[C].url, net.logs[C].fork_url):
        note = net.http.get(f"{url}/checkpoint").content
        sig = cosigner.key_id.to_bytes(4, "big") + cosigner.sign(parse_note(note).text.encode())
        cosigned = note + f"— {cosigner.name} ".encode() + base64.b64encode(sig) + b"\n"
        for i in range(COUNT):
            if i != EQUIVOCATOR:
                gossip_as(net, EQUIVOCATOR, i, cosigned)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    tmp = tmp_path_factory.mktemp("network")
    logs: dict[str, ForkedLog] = {}
    witnesses: list[subprocess.Popen[bytes]] = []
    with Receiver() as receiver, httpx.Client(timeout=10) as http:
        try:
            for origin, fork_at, main, fork_only in ((A, 5, 10, 0), (B, 5, 8, 3), (C, 3, 6, 0)):
                log = logs[origin] = start_forked_log(tmp / origin.split(".")[0], origin, fork_at)
                grow(http, log.url, main, "entry")
                wait_for(f"{origin} fork", lambda log=log, main=main: checkpoint_size(
                    http, log.fork_url) == main)  # fmt: skip
                grow(http, log.fork_url, fork_only, "fork-only")
            specs = [WitnessSpec(KEYS[i], free_port()) for i in range(COUNT)]
            network = network_file(tmp / "network.txt", specs)
            configs = []
            for i, spec in enumerate(specs):
                for origin in FORKED:
                    log = logs[origin]
                    url = log.fork_url if i in ON_FORK else log.url
                    spec.logs.append({"origin": origin, "vkeys": [log.vkey], "tiles_url": url})
                refusing = {"origin": D.origin, "vkeys": [D.vkey]}
                if i < 4:
                    refusing["tiles_url"] = f"{receiver.url}/{'refuse' if i < 2 else 'slow'}/"
                spec.logs += [refusing, {"origin": E.origin, "vkeys": [E.vkey]}]
                alerts = {
                    "webhooks": [f"{receiver.url}/hook"],
                    "warn_hold_seconds": 0,
                    "retry_initial_seconds": 0.2,
                    "retry_max_seconds": 1,
                }
                configs.append(
                    write_witness(tmp / f"w{i}", spec, network, gossip=GOSSIP, alerts=alerts)
                )
            started = start_witnesses(configs)
            witnesses = [p for p, _ in started]
            net = Net(receiver, logs, [ready["url"] for _, ready in started], http)
            for i in range(COUNT):
                feed(http, net.urls[i], D, 5 if i < 4 else 9)
                feed(http, net.urls[i], E, 7)
            inject_double_cosignature(net)
            yield net
        finally:
            assert stop(witnesses) == [0] * len(witnesses)
            stop(log.proc for log in logs.values())


def verify_cli(
    file: bytes, path: Path, log_vkey: str, witness_vkey: str
) -> subprocess.CompletedProcess[str]:
    """`witnessnet evidence verify` on `file`, written to `path`."""
    path.write_bytes(file)
    args = [sys.executable, "-m", "witnessnet", "evidence", "verify", str(path),
            "--log-vkey", log_vkey, "--witness-vkey", witness_vkey]  # fmt: skip
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def test_every_witness_holds_verified_evidence_of_every_fork(net: Net, tmp_path: Path) -> None:
    for origin in FORKED:
        for i in range(COUNT):
            what = f"witness {i} to hold proof of {origin}"
            wait_for(what, lambda i=i, origin=origin: net.proofs(i, origin), DEADLINE)
    files: dict[bytes, tuple[str, str]] = {}
    for i in range(COUNT):
        for e in net.evidence(i):
            if e["kind"] == "suspicion":
                continue
            file = net.http.get(f"{net.urls[i]}/evidence/{e['fingerprint']}").content
            files[hashlib.sha256(file).digest()] = (file, e["origin"])  # type: ignore[assignment]
    witness_vkey = KEYS[EQUIVOCATOR].vkey()
    for n, (file, origin) in enumerate(files.values()):
        result = verify_cli(file, tmp_path / f"{n}.evidence", net.logs[origin].vkey, witness_vkey)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("PROOF OF")


def test_a_witness_that_double_cosigns_is_proven(net: Net) -> None:
    for i in range(COUNT):
        wait_for(
            f"witness {i} to hold proof that witness {EQUIVOCATOR} equivocated",
            lambda i=i: any(
                e["kind"] == "witness-equivocation" and e["witness"] == KEYS[EQUIVOCATOR].name
                for e in net.proofs(i, C)
            ),
            DEADLINE,
        )
    assert all(
        e["origin"] == C for i in range(COUNT) for e in net.evidence(i)
        if e["kind"] == "witness-equivocation"
    )  # fmt: skip


def test_exactly_one_page_per_witness_per_fork(net: Net) -> None:
    sources = {k.name for k in KEYS}

    def paged() -> bool:
        pages = net.receiver.pages()
        return all((s, "split-view", o) in pages for s in sources for o in FORKED) and all(
            (s, "witness-equivocation", KEYS[EQUIVOCATOR].name) in pages for s in sources
        )

    wait_for("a page from every witness about every fork", paged, DEADLINE)
    time.sleep(3)  # ten more intervals: any second page would arrive by now
    pages = net.receiver.pages()
    expected = {(s, "split-view", o) for s in sources for o in FORKED}
    expected |= {(s, "witness-equivocation", KEYS[EQUIVOCATOR].name) for s in sources}
    assert set(pages) == expected
    assert all(len(ids) == 1 for ids in pages.values()), pages
    for alert in net.receiver.alerts:
        if alert["class"] == "page":
            assert (
                alert["attachment_sha256"]
                == hashlib.sha256(base64.b64decode(alert["attachment"])).hexdigest()
            )


def test_a_log_that_refuses_or_stalls_proofs_is_suspected_never_paged(net: Net) -> None:
    def warned() -> set[str]:
        warns = net.receiver.of_class("warn")
        return {
            s for (s, kind, subject) in warns if kind == "log-suspicion" and subject == D.origin
        }

    wait_for("every witness to warn about D", lambda: len(warned()) == COUNT, DEADLINE)
    assert not [k for k in net.receiver.pages() if k[2] == D.origin]
    for i in range(COUNT):
        assert not net.proofs(i, D.origin)
        logs = {e["origin"]: e for e in net.http.get(f"{net.urls[i]}/logs").json()["logs"]}
        assert logs[D.origin]["size"] == (5 if i < 4 else 9)
    reporters = {e["witness"] for i in range(COUNT) for e in net.evidence(i)
                 if e["kind"] == "suspicion" and e["origin"] == D.origin}  # fmt: skip
    assert reporters >= {KEYS[i].name for i in range(4)}


def test_every_witness_serves_every_cosignature(net: Net) -> None:
    verifiers = [CosignatureV1Signer(k).verifier() for k in KEYS]

    def cosigned_by_all(i: int) -> bool:
        resp = net.http.get(f"{net.urls[i]}/{origin_path(E.origin)}/checkpoint")
        return (
            resp.status_code == 200
            and len(verify_note(parse_note(resp.content), verifiers)) == COUNT
        )

    for i in range(COUNT):
        wait_for(
            f"witness {i} to serve E with all cosignatures",
            lambda i=i: cosigned_by_all(i),
            DEADLINE,
        )


def test_frozen_logs_are_never_cosigned_again(net: Net) -> None:
    for i in range(COUNT):
        wait_for(
            f"witness {i} to freeze every fork", lambda i=i: all(net.proofs(i, o) for o in FORKED)
        )
    note = net.http.get(f"{net.logs[A].url}/checkpoint").content
    resp = net.http.post(f"{net.urls[0]}/add-checkpoint", content=b"old 10\n\n" + note)
    assert resp.status_code == 403 and "frozen" in resp.text
    metrics = net.http.get(f"{net.urls[0]}/metrics").text
    assert "witnessnet_gossip_frozen_logs 3.0" in metrics
    assert 'witnessnet_gossip_exchanges_total{outcome="exchanged"}' in metrics
    assert not [k for k in net.receiver.of_class("warn") if k[2] in (A, C)]
