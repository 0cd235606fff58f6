"""The demo network on 127.0.0.1, all state in one directory: keys, a network file, a
policy, one config per daemon, and the daemons themselves.

    log        `witnessnet log serve --fork-at N`: the main log, and a fork with the same
               key and origin that equals it for the first N entries
    w0 .. w4   `witnessnet witness serve` with gossip; w3 and w4 follow the fork's URL,
               so once the log grows past N they are shown a different history
    monitor    `witnessnet monitor run`, following the main log's witnessnet releases at
               the newest checkpoint that a quorum of the witnesses cosigned

Every daemon sends its alerts to the demo's webhook receiver and to a JSON-lines file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from tlog.keys import Ed25519Signer, generate_signer
from tlog.policy import Policy, parse_policy
from witnessnet.commands.key import write_key_file
from witnessnet.demo.procs import Child, Children, free_port, log_serve_argv, witnessnet_argv
from witnessnet.demo.progress import Progress

ORIGIN = "demo.witnessnet.example/releases"
COMPONENT = "witnessnet"
WITNESSES = 5
ON_FORK = (3, 4)
QUORUM = 3
FORK_AT = 9
POLL_SECONDS = 0.2
GOSSIP = {"interval_seconds": 0.4, "timeout_seconds": 2, "proof_attempts": 2}
ALERTS = {"warn_hold_seconds": 0, "retry_initial_seconds": 0.2, "retry_max_seconds": 1}


def witness_names() -> list[str]:
    """The key names of the demo's witnesses, w0 first."""
    return [f"w{i}.demo.witnessnet.example" for i in range(WITNESSES)]


def origin_hash(origin: str) -> str:
    """The path segment of a witness's per-log read endpoint."""
    return hashlib.sha256(origin.encode()).hexdigest()


@dataclass
class WitnessNode:
    """One witness: its key, the URL it serves, which side of the fork it follows."""

    index: int
    signer: Ed25519Signer
    url: str
    on_fork: bool
    directory: Path
    child: Child | None = None

    @property
    def name(self) -> str:
        return self.signer.name

    @property
    def checkpoint_url(self) -> str:
        """Its latest checkpoint of the demo log with every cosignature it knows."""
        return f"{self.url}/{origin_hash(ORIGIN)}/checkpoint"


@dataclass
class Network:
    """Everything the steps need to drive and observe the running network."""

    directory: Path
    log: Child
    witnesses: list[WitnessNode]
    monitor: Child
    policy: Policy
    publisher: Ed25519Signer
    attacker: Ed25519Signer
    findings: Path

    @property
    def log_vkey(self) -> str:
        return str(self.log.listening["vkey"])

    @property
    def children(self) -> list[Child]:
        return [self.log, *(w.child for w in self.witnesses if w.child), self.monitor]


def _toml(value: Any) -> str:
    """A TOML value: JSON strings, numbers and arrays of them are valid TOML."""
    return json.dumps(value)


def _table(name: str, values: Mapping[str, Any], array: bool = False) -> list[str]:
    header = f"[[{name}]]" if array else f"[{name}]"
    return ["", header, *(f"{k} = {_toml(v)}" for k, v in values.items())]


def _write(path: Path, lines: Sequence[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _key(directory: Path, file: str, name: str) -> Ed25519Signer:
    signer = generate_signer(name)
    write_key_file(directory / file, signer)
    return signer


@dataclass(frozen=True)
class LogAddress:
    """Where the log and its fork will listen, and its key, known before it starts."""

    url: str
    fork_url: str
    vkey: str


def _witness_config(node: WitnessNode, log: LogAddress, network_file: Path, hook: str) -> Path:
    tiles = log.fork_url if node.on_fork else log.url
    log_table = {"origin": ORIGIN, "vkeys": [log.vkey], "tiles_url": tiles}
    alerts = {"webhooks": [hook], "log_file": "alerts.jsonl", **ALERTS}
    lines = [
        f"name = {_toml(node.name)}",
        'key_file = "witness.key"',
        'database = "witness.db"',
        f"listen = {_toml(node.url.removeprefix('http://'))}",
        f"poll_interval = {POLL_SECONDS}",
        *_table("logs", log_table, array=True),
        *_table("gossip", {"network_file": str(network_file), **GOSSIP}),
        *_table("alerts", alerts),
    ]
    return _write(node.directory / "witness.toml", lines)


def _policy_text(log_vkey: str, witnesses: Sequence[WitnessNode]) -> str:
    lines = [f"log {log_vkey}"]
    lines += [f"witness {w.name} {w.signer.vkey()} {w.url}" for w in witnesses]
    lines += [f"group witnesses {QUORUM} {' '.join(w.name for w in witnesses)}"]
    return "\n".join([*lines, "quorum witnesses"]) + "\n"


def _monitor_config(
    directory: Path, log: LogAddress, witnesses: Sequence[WitnessNode], publisher: str, hook: str
) -> Path:
    log_table = {
        "name": "releases",
        "origin": ORIGIN,
        "vkey": log.vkey,
        "url": log.url,
        "claims": ["witnessnet-release"],
        "policy": "policy.txt",
        "checkpoints": [w.checkpoint_url for w in witnesses],
    }
    alerts = {"webhooks": [hook], "log_file": "alerts.jsonl", **ALERTS}
    lines = [
        'state = "monitor.db"',
        'listen = "127.0.0.1:0"',
        f"poll_interval = {POLL_SECONDS}",
        "batch_size = 256",
        "timeout = 5",
        *_table("logs", log_table, array=True),
        *_table("components", {"name": COMPONENT, "signers": [publisher], "threshold": 1}, True),
        *_table("sinks", {"type": "jsonl", "path": "findings.jsonl"}, array=True),
        *_table("alerts", alerts),
    ]
    return _write(directory / "monitor.toml", lines)


def _address() -> str:
    return f"127.0.0.1:{free_port()}"


@dataclass
class Plan:
    """The network on disk before anything runs: keys, configs and chosen addresses."""

    directory: Path
    log: LogAddress
    log_argv: list[str]
    witnesses: list[WitnessNode]
    witness_configs: list[Path]
    monitor_config: Path
    policy_text: str
    publisher: Ed25519Signer
    attacker: Ed25519Signer


def write_network(directory: Path, hook: str) -> Plan:
    """Write every key and config under `directory`. Ports are chosen here, before any
    daemon runs, since each config names the others' URLs."""
    keys = directory / "keys"
    keys.mkdir()
    log_key = _key(keys, "log.key", ORIGIN)
    publisher = _key(keys, "publisher.key", "release.demo.witnessnet.example")
    attacker = _key(keys, "unknown.key", "release.attacker.example")
    listen, fork_listen = _address(), _address()
    log = LogAddress(f"http://{listen}", f"http://{fork_listen}", log_key.vkey())
    (directory / "log").mkdir()
    log_args = ["--batch-interval", "0.05", "--fork-at", str(FORK_AT), "--fork-listen", fork_listen]
    log_argv = log_serve_argv(
        directory / "log" / "data", keys / "log.key", ORIGIN, log_args, listen
    )

    witnesses = []
    for i, name in enumerate(witness_names()):
        node_dir = directory / f"w{i}"
        node_dir.mkdir()
        signer = _key(node_dir, "witness.key", name)
        witnesses.append(WitnessNode(i, signer, f"http://{_address()}", i in ON_FORK, node_dir))
    network_file = _write(
        directory / "network.txt",
        [f"witness {w.name} {w.signer.vkey()} {w.url}" for w in witnesses],
    )
    configs = [_witness_config(w, log, network_file, hook) for w in witnesses]

    policy_text = _policy_text(log.vkey, witnesses)
    monitor_dir = directory / "monitor"
    monitor_dir.mkdir()
    _write(monitor_dir / "policy.txt", [policy_text.rstrip("\n")])
    monitor_config = _monitor_config(monitor_dir, log, witnesses, publisher.vkey(), hook)
    return Plan(
        directory, log, log_argv, witnesses, configs, monitor_config, policy_text, publisher,
        attacker,
    )  # fmt: skip


async def start_network(directory: Path, children: Children, hook: str, p: Progress) -> Network:
    """Write the network under `directory`, start every daemon at once, and return once
    the log and every witness listen and the monitor serves its status page."""
    plan = write_network(directory, hook)
    log = await children.start("log", plan.log_argv, directory / "log" / "stderr.log")
    for w, config in zip(plan.witnesses, plan.witness_configs, strict=True):
        argv = witnessnet_argv("witness", "serve", "--init", "--config", str(config))
        w.child = await children.start(w.name, argv, w.directory / "stderr.log")
    argv = witnessnet_argv("monitor", "run", "--config", str(plan.monitor_config))
    monitor = await children.start("monitor", argv, plan.monitor_config.parent / "stderr.log")
    p.step(f"started the log, {len(plan.witnesses)} witnesses and the monitor; waiting for them")
    async with trio.open_nursery() as nursery:
        for child in (log, *(w.child for w in plan.witnesses if w.child), monitor):
            nursery.start_soon(children.listening, child)
    net = Network(
        directory,
        log,
        plan.witnesses,
        monitor,
        parse_policy(plan.policy_text),
        plan.publisher,
        plan.attacker,
        plan.monitor_config.parent / "findings.jsonl",
    )
    _report(net, p)
    return net


def _report(net: Network, p: Progress) -> None:
    p.step(f"log listening at {net.log.url} (origin {ORIGIN})")
    p.detail(f"log key {net.log_vkey}")
    p.detail(
        f"its fork at {net.log.listening['fork_url']}: same key and origin, the same first "
        f"{FORK_AT} entries, then a different history"
    )
    fork = ", ".join(f"w{i}" for i in ON_FORK)
    interval = GOSSIP["interval_seconds"]
    p.step(f"{len(net.witnesses)} witnesses listening, gossiping every ~{interval} s ({fork} "
           "follow the fork):")  # fmt: skip
    for w in net.witnesses:
        p.detail(f"w{w.index} {w.url}  {w.signer.vkey()}")
    p.step(
        f"monitor listening at {net.monitor.url}: needs {QUORUM} of {WITNESSES} witness "
        f"cosignatures; releases must be signed by {net.publisher.name}"
    )
