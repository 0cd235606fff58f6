"""Signing through a real ssh-agent (Debian's openssh-client): the client, then a witness daemon."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.witness.helpers import ToyLog, WitnessProcess, write_config
from tlog.cosignature import CosignatureV1Signer, CosignatureV1Verifier
from tlog.keys import Ed25519Signer
from tlog.note import parse_note, verify_note
from tlog.sshagent import ed25519_blob, fingerprint
from witness.agent import AgentClient, AgentError, find_agent_key

SETUP = Path(__file__).parents[1] / "setup" / "install-openssh-client.sh"
NAME = "example.com/witness"


@dataclass
class Agent:
    socket: str
    keys: list[ed25519.Ed25519PrivateKey]

    def add(self, directory: Path, key: ed25519.Ed25519PrivateKey) -> str:
        """ssh-add `key` (written in OpenSSH format, mode 0600); return its fingerprint."""
        path = directory / f"id_ed25519_{len(self.keys)}"
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        env = {**os.environ, "SSH_AUTH_SOCK": self.socket}
        subprocess.run(["ssh-add", "-q", str(path)], env=env, check=True, timeout=30)
        self.keys.append(key)
        return fingerprint(ed25519_blob(key.public_key().public_bytes_raw()))


@pytest.fixture
def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Agent]:
    """A real ssh-agent on a socket in tmp_path, exported as SSH_AUTH_SOCK."""
    if shutil.which("ssh-agent") is None or shutil.which("ssh-add") is None:
        subprocess.run(["bash", str(SETUP)], check=True, timeout=600)
    socket = str(tmp_path / "agent.sock")
    proc = subprocess.Popen(
        ["ssh-agent", "-D", "-a", socket], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(socket):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ssh-agent did not start: {proc.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.02)
        monkeypatch.setenv("SSH_AUTH_SOCK", socket)
        yield Agent(socket, [])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stderr.close()  # type: ignore[union-attr]


def test_agent_client_lists_and_signs(agent: Agent, tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    fp = agent.add(tmp_path, key)
    client = AgentClient(agent.socket)
    try:
        (held,) = client.identities()
        assert fingerprint(held.blob) == fp
        sig = client.sign(held.blob, b"message")
        key.public_key().verify(sig, b"message")
    finally:
        client.close()
    found = find_agent_key(NAME, fp, agent.socket)
    assert found.public == key.public_key().public_bytes_raw()
    # The same key as a file signer: same vkey, same signatures (Ed25519 is deterministic).
    as_file = Ed25519Signer(NAME, key.private_bytes_raw())
    assert found.vkey() == as_file.vkey()
    assert found.sign_raw(b"x") == as_file.sign_raw(b"x")


def test_missing_agent_key_is_named(agent: Agent, tmp_path: Path) -> None:
    agent.add(tmp_path, ed25519.Ed25519PrivateKey.generate())
    other = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    want = fingerprint(ed25519_blob(other))
    with pytest.raises(
        AgentError, match=f"does not hold key {re.escape(want)}.*add it with ssh-add"
    ):
        find_agent_key(NAME, want, agent.socket)
    with pytest.raises(AgentError, match="cannot connect to the ssh-agent"):
        find_agent_key(NAME, want, str(tmp_path / "nowhere.sock"))


def test_witness_daemon_cosigns_through_the_agent(agent: Agent, tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    fp = agent.add(tmp_path, key)
    log = ToyLog("agent.test/log", 16)
    config = write_config(
        tmp_path / "w", [(log.origin, [log.vkey], None)], top={"key_file": f"ssh-agent:{fp}"}
    )
    (tmp_path / "w" / "witness.key").unlink()  # the key exists only in the agent
    witness = WitnessProcess(config, "--init")
    try:
        cosigner = CosignatureV1Verifier(NAME, key.public_key().public_bytes_raw())
        with httpx.Client(base_url=witness.url, timeout=10) as http:
            for old, size in ((0, 8), (8, 16)):
                r = http.post("/add-checkpoint", content=log.body(old, size))
                assert r.status_code == 200, r.text
                note = parse_note(log.checkpoint(size) + r.content)
                assert verify_note(note, [cosigner]) == [cosigner]
            discovery = http.get("/witness.v0.json").json()
        assert [k["vkey"] for k in discovery["verifier_keys"]] == [cosigner.vkey()]
        assert witness.ready["vkey"] == cosigner.vkey()
    finally:
        assert witness.stop() == 0


def test_witness_refuses_to_start_without_its_agent_key(
    agent: Agent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent.add(tmp_path, ed25519.Ed25519PrivateKey.generate())
    absent = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    want = fingerprint(ed25519_blob(absent))
    log = ToyLog("agent.test/log", 4)
    config = write_config(
        tmp_path / "w", [(log.origin, [log.vkey], None)], top={"key_file": f"ssh-agent:{want}"}
    )
    with pytest.raises(
        RuntimeError, match=f"key_file: cannot use ssh-agent:{re.escape(want)}.*does not hold"
    ):
        WitnessProcess(config, "--init")
    monkeypatch.delenv("SSH_AUTH_SOCK")
    with pytest.raises(RuntimeError, match="SSH_AUTH_SOCK is not set"):
        WitnessProcess(config, "--init")


def test_agent_signer_matches_the_file_signer_for_cosignatures(
    agent: Agent, tmp_path: Path
) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    fp = agent.add(tmp_path, key)
    found = CosignatureV1Signer(find_agent_key(NAME, fp, agent.socket))  # type: ignore[arg-type]
    from_file = CosignatureV1Signer(Ed25519Signer(NAME, key.private_bytes_raw()))
    assert found.vkey() == from_file.vkey()
    assert found.sign_at(b"body\n", 1234) == from_file.sign_at(b"body\n", 1234)


def start_agent(socket: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        ["ssh-agent", "-D", "-a", socket], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while not os.path.exists(socket):
        assert proc.poll() is None and time.monotonic() < deadline, "ssh-agent did not start"
        time.sleep(0.02)
    return proc


def test_an_agent_that_goes_away_gets_503_until_it_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("ssh-agent") is None:
        subprocess.run(["bash", str(SETUP)], check=True, timeout=600)
    socket = str(tmp_path / "agent.sock")
    monkeypatch.setenv("SSH_AUTH_SOCK", socket)
    key = ed25519.Ed25519PrivateKey.generate()
    agent = Agent(socket, [])
    proc = start_agent(socket)
    try:
        fp = agent.add(tmp_path, key)
        log = ToyLog("agent.test/log", 16)
        config = write_config(
            tmp_path / "w", [(log.origin, [log.vkey], None)], top={"key_file": f"ssh-agent:{fp}"}
        )
        witness = WitnessProcess(config, "--init")
        try:
            with httpx.Client(base_url=witness.url, timeout=20) as http:
                assert http.post("/add-checkpoint", content=log.body(0, 8)).status_code == 200
                proc.terminate()
                proc.wait(timeout=10)  # ssh-agent removes its socket as it exits
                r = http.post("/add-checkpoint", content=log.body(8, 16))
                assert r.status_code == 503, r.text
                assert r.headers["retry-after"] == "1"
                assert "cannot cosign" in r.text and "ssh-agent" in r.text
                # The advance was committed before the signature was asked for: the retry
                # learns the new size (409) and, once the agent is back, is cosigned.
                proc = start_agent(socket)
                agent.keys.clear()
                agent.add(tmp_path / "w", key)
                r = http.post("/add-checkpoint", content=log.body(8, 16))
                assert (r.status_code, r.text) == (409, "16\n")
                r = http.post("/add-checkpoint", content=log.body(16, 16))
                assert r.status_code == 200, r.text
                cosigner = CosignatureV1Verifier(NAME, key.public_key().public_bytes_raw())
                verify_note(parse_note(log.checkpoint(16) + r.content), [cosigner])
        finally:
            assert witness.stop() == 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
