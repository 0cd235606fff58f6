"""`witnessnet proof consistency|inclusion`: exit 0 valid, 1 invalid, 2 malformed."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest

from tests.vectors import load
from tlog.checkpoint import parse_checkpoint
from tlog.merkle import RFC6962, MemoryTree
from tlog.note import parse_note

MONKEYS = load("monkeys-consistency-5-to-8.txt")
OLD = parse_checkpoint(parse_note(MONKEYS["checkpoint-5"]).text)
NEW = parse_checkpoint(parse_note(MONKEYS["checkpoint-8"]).text)
PROOF = MONKEYS.text("consistency-proof-b64")


def b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def proof_cli(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "witnessnet", "proof", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def consistency(
    old_size: str, old_root: str, new_root: str, stdin: str
) -> subprocess.CompletedProcess[str]:
    return proof_cli(
        "consistency", "--old-size", old_size, "--old-root", old_root,
        "--new-size", "8", "--new-root", new_root, stdin=stdin,
    )  # fmt: skip


def flip_first_hash(proof: str) -> str:
    first, rest = proof.split("\n", 1)
    raw = bytearray(base64.b64decode(first))
    raw[0] ^= 1
    return b64(bytes(raw)) + "\n" + rest


@pytest.mark.parametrize(
    ("old_size", "old_root", "stdin", "status", "message"),
    [
        ("5", b64(OLD.root), PROOF, 0, ""),
        ("5", b64(OLD.root), flip_first_hash(PROOF), 1, "invalid:"),
        ("5", b64(NEW.root), PROOF, 1, "invalid:"),
        ("5", b64(OLD.root), "\n".join(PROOF.split("\n")[:2]) + "\n", 2, "malformed:"),
        ("05", b64(OLD.root), PROOF, 2, "leading zeros"),
        ("5", "not-base64!", PROOF, 2, "--old-root"),
        ("5", b64(OLD.root), "AAAA\n", 2, "proof line 1"),
    ],
)
def test_consistency_exit_codes(
    old_size: str, old_root: str, stdin: str, status: int, message: str
) -> None:
    result = consistency(old_size, old_root, b64(NEW.root), stdin)
    assert result.returncode == status, result.stderr
    assert result.stdout == ("valid\n" if status == 0 else "")
    assert message in result.stderr


def test_inclusion_exit_codes() -> None:
    leaves = [RFC6962.leaf(b"entry %d" % i) for i in range(13)]
    tree = MemoryTree(leaves)
    proof = "".join(b64(h) + "\n" for h in tree.inclusion_proof(6, 13))

    def run(index: str, leaf: bytes, stdin: str) -> subprocess.CompletedProcess[str]:
        return proof_cli(
            "inclusion", "--size", "13", "--root", b64(tree.root()),
            "--index", index, "--leaf-hash", b64(leaf), stdin=stdin,
        )  # fmt: skip

    assert run("6", leaves[6], proof).returncode == 0
    assert run("7", leaves[6], proof).returncode == 1
    assert run("6", leaves[5], proof).returncode == 1
    malformed = run("13", leaves[6], proof)
    assert malformed.returncode == 2 and "malformed:" in malformed.stderr
    assert run("6", leaves[6], "%%%\n").returncode == 2
