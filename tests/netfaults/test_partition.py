"""Four witness processes in network namespaces of their own, partitioned while the log forks.

Each witness (`python -m witnessnet witness serve`, started with `ip netns exec`) has its
own address on a bridge (tests/netfaults/netns.py). The logs (`witnessnet log serve`)
and a webhook receiver run in the root namespace, reachable from every witness.

1. Log F holds 4 entries, its fork drill forks at 5; log H (honest) holds 3. Witnesses
   0 and 1 follow F's main listener, 2 and 3 its fork listener: the same history so far.
2. The network is cut between {0, 1} and {2, 3}; F grows to 9 entries, so each side now
   holds a different checkpoint of size 9. While cut off, nobody can see both: no
   witness may hold evidence or page, whatever the lost gossip looked like.
3. The network heals: every witness must then hold verified proof that F forked, and
   page about F (and only F) once.
4. With 20% of every witness's packets lost (and 100 ms delay where the kernel has
   netem), H grows: every witness must still come to serve H's new checkpoint with all
   four cosignatures (cosignature aggregation converges through lossy gossip).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from gossip.evidence import verify_evidence
from tests.gossip.procs import checkpoint_size, grow, origin_path, stop, wait_for
from tests.netfaults.netns import Lab, LabError, Node, install_tools
from tlog.cosignature import CosignatureV1Signer
from tlog.keys import Ed25519Signer, generate_signer, parse_vkey
from tlog.note import parse_note, verify_note
from witnessnet.commands.key import write_key_file

F, H = "f.partition.test/log", "h.partition.test/log"
COUNT = 4
SIDE_A, SIDE_B = (0, 1), (2, 3)
FORK_AT = 5
KEYS = [
    Ed25519Signer(f"w{i}.partition.test", hashlib.sha256(b"partition witness %d" % i).digest())
    for i in range(COUNT)
]
PORT = 8080
GOSSIP = {"interval_seconds": 0.3, "timeout_seconds": 1, "proof_attempts": 2}
CUT_SECONDS = 4.0  # over ten gossip intervals with the network cut
DEADLINE = 90.0


class Receiver:
    """Webhook receiver on the root namespace's bridge address: keeps every alert."""

    def __init__(self, host: str) -> None:
        alerts: list[dict[str, Any]] = []

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                alerts.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.alerts = alerts
        self.server = ThreadingHTTPServer((host, 0), Hook)
        self.url = f"http://{host}:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def of_class(self, cls: str) -> list[dict[str, Any]]:
        return [a for a in list(self.alerts) if a["class"] == cls]


@dataclass
class Log:
    proc: subprocess.Popen[bytes]
    url: str
    vkey: str
    fork_url: str = ""


def start_log(directory: Path, origin: str, host: str, fork_at: int | None = None) -> Log:
    directory.mkdir(parents=True)
    write_key_file(directory / "log.key", generate_signer(origin))
    argv = [sys.executable, "-m", "witnessnet", "log", "serve", "--dir", str(directory / "log"),
            "--key", str(directory / "log.key"), "--origin", origin, "--listen", f"{host}:0",
            "--batch-interval", "0.02"]  # fmt: skip
    if fork_at is not None:
        argv += ["--fork-at", str(fork_at), "--fork-listen", f"{host}:0"]
    with open(directory / "stderr.log", "ab") as stderr:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr)
    ready = _listening(proc, f"log {origin}", directory / "stderr.log")
    return Log(proc, ready["url"], ready["vkey"], ready.get("fork_url", ""))


def _listening(proc: subprocess.Popen[bytes], what: str, log: Path) -> dict[str, Any]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text()[-3000:]}")
    return dict(json.loads(line))


def write_witness(
    directory: Path, i: int, node: Node, logs: list[dict[str, Any]], network: Path, hook: str
) -> Path:
    directory.mkdir(parents=True)
    write_key_file(directory / "witness.key", KEYS[i])
    alerts = {"webhooks": [hook], "warn_hold_seconds": 0, "retry_initial_seconds": 0.2,
              "retry_max_seconds": 1}  # fmt: skip
    lines = [
        f"name = {json.dumps(KEYS[i].name)}",
        'key_file = "witness.key"',
        'database = "witness.db"',
        f'listen = "{node.address}:{PORT}"',
        "poll_interval = 0.3",
    ]
    for table in logs:
        lines += ["", "[[logs]]", *(f"{k} = {json.dumps(v)}" for k, v in table.items())]
    lines += ["", "[gossip]", f"network_file = {json.dumps(str(network))}"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in GOSSIP.items()]
    lines += ["", "[alerts]", *(f"{k} = {json.dumps(v)}" for k, v in alerts.items())]
    config = directory / "witness.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


@dataclass
class Net:
    lab: Lab
    nodes: list[Node]
    urls: list[str]
    logs: dict[str, Log]
    receiver: Receiver
    http: httpx.Client

    def evidence(self, i: int) -> list[dict[str, Any]]:
        return list(self.http.get(f"{self.urls[i]}/evidence").json())

    def proofs(self, i: int, origin: str) -> list[dict[str, Any]]:
        return [e for e in self.evidence(i) if e["origin"] == origin and e["kind"] != "suspicion"]

    def held(self, i: int, origin: str) -> tuple[int, str | None]:
        logs = self.http.get(f"{self.urls[i]}/logs").json()["logs"]
        entry = next((e for e in logs if e["origin"] == origin), {"size": 0, "root": None})
        return entry["size"], entry["root"]


def _lab() -> Lab:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (CI runs as root)")
    install_tools()
    lab = Lab()
    try:
        lab.open()
    except LabError as e:
        lab.close()
        pytest.skip(f"cannot create network namespaces here: {e}")
    return lab


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    tmp = tmp_path_factory.mktemp("partition")
    lab = _lab()
    procs: list[subprocess.Popen[bytes]] = []
    logs: dict[str, Log] = {}
    try:
        nodes = [lab.add_node(f"w{i}") for i in range(COUNT)]
        host = lab.root_address
        with Receiver(host) as receiver, httpx.Client(timeout=10) as http:
            logs[F] = start_log(tmp / "f", F, host, fork_at=FORK_AT)
            logs[H] = start_log(tmp / "h", H, host)
            procs += [log.proc for log in logs.values()]
            grow(http, logs[F].url, FORK_AT - 1, "entry")
            wait_for("F's fork listener", lambda: checkpoint_size(http, logs[F].fork_url) == 4)
            grow(http, logs[H].url, 3, "entry")
            network = tmp / "network.txt"
            network.write_text("".join(
                f"witness {KEYS[i].name} {KEYS[i].vkey()} http://{n.address}:{PORT}\n"
                for i, n in enumerate(nodes)
            ))  # fmt: skip
            configs = []
            for i, node in enumerate(nodes):
                f_url = logs[F].fork_url if i in SIDE_B else logs[F].url
                tables = [
                    {"origin": F, "vkeys": [logs[F].vkey], "tiles_url": f_url},
                    {"origin": H, "vkeys": [logs[H].vkey], "tiles_url": logs[H].url},
                ]
                configs.append(write_witness(tmp / f"w{i}", i, node, tables, network, receiver.url))
            for node, config in zip(nodes, configs, strict=True):
                argv = node.exec_argv(sys.executable, "-m", "witnessnet", "witness", "serve",
                                      "--init", "--config", str(config))  # fmt: skip
                with open(config.parent / "stderr.log", "ab") as stderr:
                    procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr))
            urls = []
            for node, config, proc in zip(nodes, configs, procs[2:], strict=True):
                ready = _listening(proc, f"witness {node.name}", config.parent / "stderr.log")
                urls.append(ready["url"])
            yield Net(lab, nodes, urls, logs, receiver, http)
    finally:
        try:
            stop(procs)
        finally:
            lab.close()


def test_no_false_alarm_while_cut_and_every_witness_proves_the_fork_after_heal(net: Net) -> None:
    for i in range(COUNT):
        wait_for(f"witness {i} to hold F at 4", lambda i=i: net.held(i, F)[0] == 4, DEADLINE)
        wait_for(f"witness {i} to hold H at 3", lambda i=i: net.held(i, H)[0] == 3, DEADLINE)
    a, b = [net.nodes[i] for i in SIDE_A], [net.nodes[i] for i in SIDE_B]
    net.lab.partition(a, b)
    grow(net.http, net.logs[F].url, 9 - (FORK_AT - 1), "entry")
    for i in range(COUNT):
        wait_for(f"witness {i} to hold F at 9", lambda i=i: net.held(i, F)[0] == 9, DEADLINE)
    roots = {net.held(i, F)[1] for i in range(COUNT)}
    assert len(roots) == 2, "each side should hold its own checkpoint of size 9"
    time.sleep(CUT_SECONDS)
    for i in range(COUNT):
        assert net.evidence(i) == [], f"witness {i} holds evidence while cut off"
    assert net.receiver.of_class("page") == []

    for node in net.nodes:
        net.lab.clear_faults(node)
    for i in range(COUNT):
        wait_for(f"witness {i} to prove F forked", lambda i=i: net.proofs(i, F), DEADLINE)
    sources = {k.name for k in KEYS}
    wait_for(
        "a page from every witness about F",
        lambda: {a["source"] for a in net.receiver.of_class("page")} >= sources,
        DEADLINE,
    )
    pages = net.receiver.of_class("page")
    assert {(p["kind"], p["subject"]) for p in pages} == {("split-view", F)}
    assert all(len({p["id"] for p in pages if p["source"] == s}) == 1 for s in sources)
    vkey = parse_vkey(net.logs[F].vkey)
    for i in range(COUNT):
        assert not net.proofs(i, H)
        for e in net.proofs(i, F):
            file = net.http.get(f"{net.urls[i]}/evidence/{e['fingerprint']}").content
            assert verify_evidence(file, [vkey]).origin == F


def test_gossip_converges_under_loss_and_delay(net: Net) -> None:
    applied = {net.lab.lossy(node, 20, 100) for node in net.nodes}
    print("faults:", *applied)
    try:
        grow(net.http, net.logs[H].url, 7, "more")
        verifiers = [CosignatureV1Signer(k).verifier() for k in KEYS]

        def cosigned_by_all(i: int) -> bool:
            try:
                resp = net.http.get(f"{net.urls[i]}/{origin_path(H)}/checkpoint")
            except httpx.HTTPError:
                return False  # the lossy link lost this poll too
            if resp.status_code != 200:
                return False
            note = parse_note(resp.content)
            return note.text.split("\n")[1] == "10" and len(verify_note(note, verifiers)) == COUNT

        for i in range(COUNT):
            wait_for(f"witness {i} to serve H at 10 with every cosignature",
                     lambda i=i: cosigned_by_all(i), DEADLINE)  # fmt: skip
    finally:
        for node in net.nodes:
            net.lab.clear_faults(node)
    assert {(p["kind"], p["subject"]) for p in net.receiver.of_class("page")} == {("split-view", F)}
