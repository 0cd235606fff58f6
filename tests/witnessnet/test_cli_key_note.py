"""`witnessnet key` and `witnessnet note`, run as the installed console script."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.vectors import VerifiedNote, verified_notes
from tlog.keys import generate_signer, parse_private_key, parse_vkey
from tlog.note import Note, Signature, parse_note

WITNESSNET = Path(sys.executable).parent / "witnessnet"
CASES = {c.id: c for c in verified_notes()}


def run(*args: str, stdin: bytes = b"", umask: int = -1) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(WITNESSNET), *args], input=stdin, capture_output=True, timeout=60, umask=umask
    )


def tamper_text(data: bytes) -> bytes:
    i = next(i for i, b in enumerate(data) if chr(b).isalnum())
    return data[:i] + (b"x" if data[i : i + 1] != b"x" else b"y") + data[i + 1 :]


def tamper_first_signature(case: VerifiedNote) -> bytes:
    note = parse_note(case.note)
    sig = note.signatures[0]
    bad = Signature(sig.name, sig.key_id, sig.signature[:-1] + bytes([sig.signature[-1] ^ 1]))
    return Note(note.text, (bad, *note.signatures[1:])).to_bytes()


def wrong_id_vkey(vkey: str) -> str:
    name, kid, key = vkey.split("+", 2)
    return f"{name}+{int(kid, 16) ^ 1:08x}+{key}"


STRANGER = generate_signer("stranger.example/key").vkey()
C2SP = CASES["c2sp-example"]


@dataclass(frozen=True)
class Run:
    """One CLI invocation: arguments ({dir} is a scratch directory), stdin, expected outcome.

    `expect` is the whole stdout when `status` is 0, else text that stderr must contain.
    """

    args: tuple[str, ...]
    stdin: bytes
    status: int
    expect: str


def verify(note: bytes, vkeys: tuple[str, ...], status: int, expect: str) -> Run:
    return Run(("note", "verify", *(a for v in vkeys for a in ("--vkey", v))), note, status, expect)


RUNS: dict[str, Run] = {
    **{
        f"verified-{c.id}": verify(c.note, c.vkeys, 0, "".join(f"{s}\n" for s in c.signers))
        for c in CASES.values()
    },
    "tampered-text": verify(tamper_text(C2SP.note), C2SP.vkeys, 1, "does not verify"),
    "tampered-cosignature-text": verify(
        tamper_text(CASES["aw-pixel-611-cosignatures"].note),
        CASES["aw-pixel-611-cosignatures"].vkeys,
        1,
        "ArmoredWitness-small-breeze (key ID 9d1ab951) does not verify",
    ),
    "tampered-signature": verify(
        tamper_first_signature(CASES["xmod-both"]),
        CASES["xmod-both"].vkeys,
        1,
        "PeterNeumann (key ID c74f20a3) does not verify",
    ),
    "unknown-signer-only": verify(C2SP.note, (STRANGER,), 1, "no signature from a known key"),
    "vkey-with-wrong-key-id": verify(
        C2SP.note, (wrong_id_vkey(C2SP.vkeys[0]),), 2, "does not match the key"
    ),
    # A vkey argument that is not UTF-8 (argv bytes 0xff) is malformed (2), not a rejection (1).
    "vkey-name-not-utf8": verify(C2SP.note, (os.fsdecode(b"\xff") + C2SP.vkeys[0],), 2, "key name"),
    "note-malformed": verify(b"no blank line\n", (STRANGER,), 2, "blank line"),
    "note-bad-utf8": verify(b"\xff" + C2SP.note, (STRANGER,), 2, "UTF-8"),
    "generate-name-with-space": Run(
        ("key", "generate", "--name", "bad name", "--out", "{dir}/k1"), b"", 2, "invalid key name"
    ),
    "generate-name-not-utf8": Run(
        ("key", "generate", "--name", os.fsdecode(b"a\xff"), "--out", "{dir}/k2"),
        b"",
        2,
        "key name",
    ),
    "generate-no-such-dir": Run(
        ("key", "generate", "--name", "a", "--out", "{dir}/no/such/dir/k"), b"", 2, "error: "
    ),
    "vkey-missing-file": Run(("key", "vkey", "{dir}/missing.key"), b"", 2, "missing.key"),
    "vkey-not-a-key": Run(("key", "vkey", "{dir}/garbage.key"), b"", 2, "PRIVATE+KEY+"),
    "sign-no-final-newline": Run(
        ("note", "sign", "--key", "{dir}/good.key"), b"no final newline", 2, "newline"
    ),
    "sign-control-character": Run(
        ("note", "sign", "--key", "{dir}/good.key"), b"bell \x07\n", 2, "control character"
    ),
}


@pytest.fixture(scope="module")
def results(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, subprocess.CompletedProcess[bytes]]:
    """Run every invocation in RUNS concurrently (each is a fresh interpreter)."""
    if not WITNESSNET.exists():
        pytest.fail(f"console script not installed at {WITNESSNET}")
    scratch = tmp_path_factory.mktemp("cli")
    (scratch / "garbage.key").write_text("not a key\n")
    (scratch / "good.key").write_text(generate_signer("good").private_key_string() + "\n")

    def one(r: Run) -> subprocess.CompletedProcess[bytes]:
        return run(*(a.format(dir=scratch) for a in r.args), stdin=r.stdin)

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        done = dict(zip(RUNS, pool.map(one, RUNS.values()), strict=True))
    assert not any((scratch / k).exists() for k in ("k1", "k2")), "a failed generate left a file"
    return done


@pytest.mark.parametrize("name", list(RUNS))
def test_cli(name: str, results: dict[str, subprocess.CompletedProcess[bytes]]) -> None:
    expected, result = RUNS[name], results[name]
    assert result.returncode == expected.status, result.stderr
    if expected.status == 0:
        assert result.stdout.decode() == expected.expect
        assert result.stderr == b""
    else:
        assert result.stdout == b""
        err = result.stderr.decode()
        assert err.startswith("rejected: " if expected.status == 1 else "error: ")
        assert expected.expect in err


def test_key_generate_vkey_sign_verify(tmp_path: Path) -> None:
    key = tmp_path / "log.key"
    gen = run("key", "generate", "--name", "example.com/log", "--out", str(key), umask=0)
    assert gen.returncode == 0, gen.stderr
    vkey = gen.stdout.decode().strip()
    assert gen.stdout.decode() == vkey + "\n"
    assert parse_vkey(vkey).name == "example.com/log"
    # Mode 0600 even with umask 0: the key file is created private.
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert parse_private_key(key.read_text()).vkey() == vkey

    shown = run("key", "vkey", str(key))
    assert (shown.returncode, shown.stdout.decode()) == (0, vkey + "\n")

    sign = run("note", "sign", "--key", str(key), stdin="hello, ünïcödé\n".encode())
    assert sign.returncode == 0, sign.stderr
    note = parse_note(sign.stdout)
    assert note.text == "hello, ünïcödé\n"
    assert [s.name for s in note.signatures] == ["example.com/log"]

    ok = run("note", "verify", "--vkey", STRANGER, "--vkey", vkey, stdin=sign.stdout)
    assert (ok.returncode, ok.stdout) == (0, b"example.com/log\n"), ok.stderr
    other = run("note", "verify", "--vkey", STRANGER, stdin=sign.stdout)
    assert other.returncode == 1
    assert b"rejected: no signature from a known key" in other.stderr


def test_key_generate_refuses_to_overwrite(tmp_path: Path) -> None:
    key = tmp_path / "log.key"
    assert run("key", "generate", "--name", "a", "--out", str(key)).returncode == 0
    before = key.read_bytes()
    again = run("key", "generate", "--name", "b", "--out", str(key))
    assert again.returncode == 2
    assert b"refusing to overwrite" in again.stderr
    assert again.stdout == b""
    assert key.read_bytes() == before
