"""`witnessnet ccf verify-ledger` on the real ledgers and on corrupted copies (subprocess)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tlog.ccf.vectors import LEDGERS, expected_roots, root_matches
from tlog.ccf.chunk import parse_chunk


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "witnessnet", "ccf", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("ledger", list(LEDGERS))
def test_real_ledgers_are_valid(ledger: str) -> None:
    r = run("verify-ledger", str(LEDGERS[ledger]), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["valid"] and report["problem"] is None
    got = {s["seqno"]: bytes.fromhex(s["root"]) for s in report["signed_roots"]}
    for seqno, root in expected_roots(ledger).items():
        assert root_matches(root, got[seqno])
    assert all(s["node_signature"] == "ok" for s in report["signed_roots"])
    for s in report["signed_roots"]:
        checks = s["checks"]
        assert checks["root_rebuilt"] == checks["tree_table"] == checks["node_signature"] == "ok"
        assert checks["cose_signature"] == ("ok" if ledger == "cts-canary" else "absent")
    cose = [s["cose_signature"] for s in report["signed_roots"]]
    assert cose == (["ok"] * len(cose) if ledger == "cts-canary" else [None] * len(cose))


def test_text_output_lists_each_root() -> None:
    r = run("verify-ledger", str(LEDGERS["cts-canary"]))
    assert r.returncode == 0
    assert r.stdout.count("signed root 2.") == 6
    assert "cose signature ok" in r.stdout and r.stdout.strip().endswith("valid")


def test_corrupted_copy_is_invalid_and_names_the_transaction(tmp_path: Path) -> None:
    src = LEDGERS["expired-service"]
    for f in src.glob("*.committed"):
        shutil.copy(f, tmp_path / f.name)
    target = tmp_path / "ledger_5-15.committed"
    data = bytearray(target.read_bytes())
    tx = parse_chunk(bytes(data), target.name).transactions[3]  # seqno 8
    data[tx.offset + len(tx.raw) - 5] ^= 0x01
    target.write_bytes(bytes(data))
    r = run("verify-ledger", str(tmp_path))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "INVALID" in r.stdout and "seqno 8" in r.stdout
    j = json.loads(run("verify-ledger", str(tmp_path), "--json").stdout)
    assert j["valid"] is False and j["problem"]["seqno"] == 8
    assert j["problem"]["file"] == "ledger_5-15.committed"
    assert [s["seqno"] for s in j["signed_roots"]] == [2, 4, 6]


def test_gap_is_invalid(tmp_path: Path) -> None:
    for name in ("ledger_1-4.committed", "ledger_16-26.committed"):
        shutil.copy(LEDGERS["expired-service"] / name, tmp_path / name)
    r = run("verify-ledger", str(tmp_path))
    assert r.returncode == 1 and "follow seqno 4" in r.stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("verify-ledger", str(tmp_path / "missing")).returncode == 2
    assert run("verify-ledger", str(tmp_path)).returncode == 2
    assert run("verify-ledger").returncode == 2
    (tmp_path / "notes.txt").write_text("x")
    assert run("verify-ledger", str(tmp_path / "notes.txt")).returncode == 2


def test_help_teaches() -> None:
    r = run("verify-ledger", "--help")
    assert r.returncode == 0
    for word in ("Exit status", "COSE", "seqno", "committed"):
        assert word in r.stdout


def test_vkey_and_checkpoint_verify_offline_with_note_verify(tmp_path: Path) -> None:
    origin = "cts-canary.confidential-ledger.azure.com"
    ledger = str(LEDGERS["cts-canary"])
    vkey = run("vkey", "--origin", origin, ledger)
    assert vkey.returncode == 0, vkey.stderr
    note = run("checkpoint", "--origin", origin, ledger)
    assert note.returncode == 0, note.stderr
    lines = note.stdout.splitlines()
    assert lines[:2] == [origin, "14"]
    assert base64.b64decode(lines[2]).hex() == expected_roots("cts-canary")[14]
    check = subprocess.run(
        [sys.executable, "-m", "witnessnet", "note", "verify", "--vkey", vkey.stdout.strip()],
        input=note.stdout,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0 and check.stdout.strip() == origin, check.stderr
    tampered = note.stdout.replace(lines[1], "13", 1)
    bad = subprocess.run(
        [sys.executable, "-m", "witnessnet", "note", "verify", "--vkey", vkey.stdout.strip()],
        input=tampered,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1


def test_old_ledger_has_no_checkpoint_and_says_why() -> None:
    r = run("checkpoint", "--origin", "x.example", str(LEDGERS["expired-service"]))
    assert r.returncode == 1 and "none with a COSE root signature" in r.stderr
    assert run("vkey", "--origin", "x.example", str(LEDGERS["expired-service"])).returncode == 0
    assert run("vkey", "--origin", "x.example", "/nonexistent").returncode == 2
