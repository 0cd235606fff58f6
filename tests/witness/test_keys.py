"""Witness keys: owner-only key files, rotation windows and the /witness.v0.json discovery page."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest

from tests.witness.helpers import WITNESS_KEY, ToyLog, WitnessProcess, write_config
from tlog.checkpoint import origin_hash
from tlog.cosignature import CosignatureV1Signer, CosignatureV1Verifier
from tlog.keys import Ed25519Signer
from tlog.note import parse_note, verify_note
from witness.config import load_config
from witness.errors import ConfigError
from witness.keyring import KeyRing
from witness.keysource import check_key_file_mode, load_keyring
from witnessnet.commands.key import write_key_file

NEW_KEY = Ed25519Signer(WITNESS_KEY.name, hashlib.sha256(b"new witness key").digest())
LOG = ToyLog("keys.test/log", 16)


def cosigner(key: Ed25519Signer) -> CosignatureV1Verifier:
    return CosignatureV1Verifier(key.name, key.public)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o700 | 0o007, 0o620])
def test_key_files_open_to_others_are_refused(tmp_path: Path, mode: int) -> None:
    config = write_config(tmp_path, [(LOG.origin, [LOG.vkey], None)])
    key = tmp_path / "witness.key"
    key.chmod(mode)
    with pytest.raises(ConfigError) as e:
        check_key_file_mode(key)
    assert f"key file {key} has mode {mode:04o}" in str(e.value)
    assert f"chmod 600 {key}" in str(e.value)
    with pytest.raises(RuntimeError, match=f"mode {mode:04o}.*chmod 600"):
        WitnessProcess(config, "--init")
    assert not (tmp_path / "witness.db").exists()


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_owner_only_key_files_are_accepted(tmp_path: Path, mode: int) -> None:
    write_config(tmp_path, [(LOG.origin, [LOG.vkey], None)])
    key = tmp_path / "witness.key"
    key.chmod(mode)
    check_key_file_mode(key)
    assert load_keyring(load_config(tmp_path / "witness.toml")).current.key == WITNESS_KEY


def rotation_config(directory: Path, until: str) -> Path:
    """A witness whose key_file is NEW_KEY, rotating away from WITNESS_KEY until `until`."""
    directory.mkdir(parents=True)
    write_key_file(directory / "new.key", NEW_KEY)
    write_key_file(directory / "old.key", WITNESS_KEY)
    config = write_config(
        directory, [(LOG.origin, [LOG.vkey], None)], key=NEW_KEY, top={"key_file": "new.key"}
    )
    with open(config, "a") as f:
        f.write(f'\n[rotation]\nprevious_key_file = "old.key"\nuntil = {until}\n')
    os.unlink(directory / "witness.key")
    return config


def test_rotation_window_cosigns_with_both_keys_everywhere(tmp_path: Path) -> None:
    witness = WitnessProcess(rotation_config(tmp_path / "w", "2999-01-01T00:00:00Z"), "--init")
    old, new = cosigner(WITNESS_KEY), cosigner(NEW_KEY)
    try:
        with httpx.Client(base_url=witness.url, timeout=10) as http:
            r = http.post("/add-checkpoint", content=LOG.body(0, 16))
            assert r.status_code == 200, r.text
            assert len(r.content.splitlines()) == 2
            note = parse_note(LOG.checkpoint(16) + r.content)
            assert verify_note(note, [old, new]) == [new, old]
            read = http.get(f"/{origin_hash(LOG.origin)}/checkpoint")
            assert read.status_code == 200
            verified = verify_note(parse_note(read.content), [old, new, LOG.signer.verifier()])
            assert len(verified) == 3
            doc = http.get("/witness.v0.json").json()
            page = http.get("/").text
    finally:
        assert witness.stop() == 0
    keys = doc["verifier_keys"]
    assert [(k["vkey"], k["status"]) for k in keys] == [
        (new.vkey(), "current"),
        (old.vkey(), "previous"),
    ]
    assert keys[1]["until"] == "2999-01-01T00:00:00Z"
    assert all(k["type"] == "cosignature/v1" for k in keys)
    assert new.vkey() in page and old.vkey() in page


def test_after_the_window_only_the_new_key_cosigns(tmp_path: Path) -> None:
    witness = WitnessProcess(rotation_config(tmp_path / "w", "2001-01-01T00:00:00Z"), "--init")
    try:
        with httpx.Client(base_url=witness.url, timeout=10) as http:
            r = http.post("/add-checkpoint", content=LOG.body(0, 8))
            doc = http.get("/witness.v0.json").json()
    finally:
        assert witness.stop() == 0
    assert r.status_code == 200, r.text
    note = parse_note(LOG.checkpoint(8) + r.content)
    assert verify_note(note, [cosigner(WITNESS_KEY), cosigner(NEW_KEY)]) == [cosigner(NEW_KEY)]
    assert len(note.signatures) == 2  # the log's and the new key's
    assert [k["vkey"] for k in doc["verifier_keys"]] == [cosigner(NEW_KEY).vkey()]


def test_the_window_closes_while_running() -> None:
    now = [1000.0]
    ring = KeyRing(
        CosignatureV1Signer(NEW_KEY), CosignatureV1Signer(WITNESS_KEY), 1500.0, clock=lambda: now[0]
    )
    body = LOG.checkpoint(4).split(b"\n\n")[0] + b"\n"
    assert len(ring.cosign(body).splitlines()) == 2
    assert len(ring.vkeys()) == 2
    now[0] = 1500.0
    lines = ring.cosign(body)
    assert len(lines.splitlines()) == 1
    assert verify_note(parse_note(body + b"\n" + lines), [cosigner(NEW_KEY)])
    assert ring.vkeys() == [cosigner(NEW_KEY).vkey()]


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ('previous_key_file = "old.key"\nuntil = 2030-01-01T00:00:00', "rotation.until: must be"),
        ('previous_key_file = "old.key"\nuntil = "soon"', "rotation.until: must be"),
        ("until = 2030-01-01T00:00:00Z", "rotation.previous_key_file: missing"),
        ('previous_key_file = "ssh-agent:SHA256:x"\nuntil = 2030-01-01T00:00:00Z', "fingerprint"),
        ('previous = "old.key"', "rotation.previous: unknown key"),
    ],
)
def test_bad_rotation_tables_name_the_key(tmp_path: Path, table: str, error: str) -> None:
    config = write_config(tmp_path, [(LOG.origin, [LOG.vkey], None)])
    with open(config, "a") as f:
        f.write(f"\n[rotation]\n{table}\n")
    with pytest.raises(ConfigError, match=error):
        load_config(config)


def test_rotating_to_the_same_key_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, [(LOG.origin, [LOG.vkey], None)])
    with open(config, "a") as f:
        f.write('\n[rotation]\nprevious_key_file = "witness.key"\nuntil = 2999-01-01T00:00:00Z\n')
    with pytest.raises(ConfigError, match="the previous key is the current key"):
        load_keyring(load_config(config))


def test_discovery_document_names_the_urls(tmp_path: Path) -> None:
    witness = WitnessProcess(write_config(tmp_path, [(LOG.origin, [LOG.vkey], None)]), "--init")
    try:
        base = witness.url.rstrip("/") + "/"
        doc = httpx.get(base + "witness.v0.json", timeout=10).json()
    finally:
        assert witness.stop() == 0
    assert doc["name"] == WITNESS_KEY.name
    assert doc["submission_url"] == base + "add-checkpoint"
    assert doc["monitoring_url"] == base
    assert doc["verifier_keys"] == [
        {"vkey": witness.ready["vkey"], "type": "cosignature/v1", "status": "current"}
    ]
    assert doc["software"]["name"] == "witnessnet" and doc["software"]["version"]
