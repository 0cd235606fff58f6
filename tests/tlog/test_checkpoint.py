"""Checkpoints (tlog.checkpoint): real checkpoints, strict parsing, fuzzing, round trips."""

from __future__ import annotations

import base64
import contextlib
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.vectors import load
from tlog.checkpoint import (
    MAX_SIZE,
    Checkpoint,
    open_checkpoint,
    origin_hash,
    parse_checkpoint,
    parse_hash,
    parse_size,
)
from tlog.errors import CheckpointError, TlogError, UnverifiedNoteError
from tlog.keys import Ed25519Signer, parse_vkey
from tlog.note import parse_note, sign_note

ROOT = base64.b64encode(bytes(range(32))).decode()
LOG = Ed25519Signer("example.com/log", bytes(32))


@pytest.mark.parametrize(
    ("file", "section", "vkey", "origin", "size"),
    [
        ("sumdb-checkpoints.txt", "cp-35225469", "vkey", "go.sum database tree", 35225469),
        ("sumdb-checkpoints.txt", "cp-6476701-multisig", "vkey", "go.sum database tree", 6476701),
        (
            "static-ct-rfc6962-notes.txt",
            "checkpoint-rome",
            "vkey-rome",
            "rome.ct.filippo.io/2024h1",
            115474666,
        ),
        (
            "armored-witness-cosigned-checkpoints.txt",
            "pixel-611",
            "pixel-log-vkey",
            "developers.google.com/android/binary_transparency/0",
            611,
        ),
        ("monkeys-consistency-5-to-8.txt", "checkpoint-8", "log-vkey", "monkeys", 8),
    ],
)
def test_open_real_checkpoint(file: str, section: str, vkey: str, origin: str, size: int) -> None:
    v = load(file)
    signed = open_checkpoint(v[section], [parse_vkey(v.line(vkey))])
    cp = signed.checkpoint
    assert (cp.origin, cp.size, cp.extensions) == (origin, size, ())
    assert base64.b64encode(cp.root).decode() == v.lines(section)[2]
    assert cp.body() == signed.note.text
    assert [x.name for x in signed.verified_by] == [v.line(vkey).split("+")[0]]
    assert signed.note.to_bytes() == v[section]


def test_open_checkpoint_keeps_cosignatures_and_rejects_unknown_log() -> None:
    aw = load("armored-witness-cosigned-checkpoints.txt")
    signed = open_checkpoint(aw["pixel-611"], [parse_vkey(aw.line("pixel-log-vkey"))])
    assert len(signed.note.signatures) == 3
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(aw["pixel-611"], [parse_vkey(aw.line("aw-ftlog-ci-3-vkey"))])


def test_open_checkpoint_rejects_a_signed_non_checkpoint() -> None:
    note = sign_note("not a checkpoint\n", [LOG])
    with pytest.raises(CheckpointError):
        open_checkpoint(note.to_bytes(), [LOG.verifier()])


def test_spec_example_and_origin_hash() -> None:
    text = parse_note(load("c2sp-spec-examples.txt")["tlog-checkpoint-example"]).text
    cp = parse_checkpoint(text)
    assert (cp.origin, cp.size) == ("example.com/behind-the-sofa", 20852163)
    want = hashlib.sha256(b"example.com/behind-the-sofa").hexdigest()
    assert cp.origin_hash == origin_hash(cp.origin) == want


def test_extensions_are_kept_in_order() -> None:
    cp = parse_checkpoint(f"o\n1\n{ROOT}\nb ext\na ext\n")
    assert cp.extensions == ("b ext", "a ext")
    assert cp.body() == f"o\n1\n{ROOT}\nb ext\na ext\n"


@pytest.mark.parametrize("size", ["0", "1", "9", "10", "20852163", str(MAX_SIZE)])
def test_valid_sizes(size: str) -> None:
    assert parse_size(size) == int(size)
    assert parse_checkpoint(f"o\n{size}\n{ROOT}\n").size == int(size)


@pytest.mark.parametrize(
    "size",
    [
        "",
        "00",
        "01",
        "007",
        "+1",
        "-1",
        "-0",
        " 1",
        "1 ",
        "1_000",
        "0x10",
        "1e3",
        "1.0",
        "١",  # ARABIC-INDIC DIGIT ONE: int() accepts it, the format does not
        "１",  # FULLWIDTH DIGIT ONE
        str(MAX_SIZE + 1),
        str(2**64),
        "9" * 30,
    ],
)
def test_invalid_sizes(size: str) -> None:
    with pytest.raises(CheckpointError, match="line 2"):
        parse_checkpoint(f"o\n{size}\n{ROOT}\n")


@pytest.mark.parametrize(
    "root",
    [
        pytest.param("", id="empty"),
        pytest.param(base64.b64encode(bytes(31)).decode(), id="31-bytes"),
        pytest.param(base64.b64encode(bytes(33)).decode(), id="33-bytes"),
        pytest.param(base64.b64encode(bytes(64)).decode(), id="64-bytes"),
        pytest.param(ROOT[:-1], id="missing-padding"),
        pytest.param(ROOT[:-2] + "9=", id="non-canonical"),
        pytest.param(ROOT.replace("A", "-", 1), id="url-safe"),
        pytest.param(ROOT + " ", id="trailing-space"),
        pytest.param(bytes(32).hex(), id="hex"),
    ],
)
def test_invalid_roots(root: str) -> None:
    with pytest.raises(CheckpointError, match="line 3"):
        parse_checkpoint(f"o\n1\n{root}\n")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        pytest.param(f"o\n1\n{ROOT}", "newline", id="no-final-newline"),
        pytest.param(f"\n1\n{ROOT}\n", "origin", id="empty-origin"),
        pytest.param("o\n1\n", "lines", id="two-lines"),
        pytest.param("", "newline", id="empty"),
        pytest.param(f"o\n1\n{ROOT}\n\n", "line 4", id="empty-extension-at-end"),
        pytest.param(f"o\n1\n{ROOT}\next\n\next\n", "line 5", id="empty-extension-between"),
    ],
)
def test_malformed_checkpoints(text: str, where: str) -> None:
    with pytest.raises(CheckpointError, match=where):
        parse_checkpoint(text)


def test_parse_hash_and_size_name_the_field() -> None:
    with pytest.raises(CheckpointError, match="--old-root"):
        parse_hash("x", "--old-root")
    with pytest.raises(CheckpointError, match="--size"):
        parse_size("x", "--size")


# --- fuzzing and round trips ----------------------------------------------------

line_text = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters=[chr(c) for c in range(32)]),
    min_size=1,
    max_size=40,
)
checkpoints = st.builds(
    Checkpoint,
    origin=line_text,
    size=st.integers(0, MAX_SIZE),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(line_text, max_size=4).map(tuple),
)


@given(st.text(max_size=300))
def test_parse_checkpoint_arbitrary_text(text: str) -> None:
    with contextlib.suppress(TlogError):
        parse_checkpoint(text)


@given(checkpoints, st.integers(0, 200), st.characters(exclude_categories=("Cs",)))
def test_parse_checkpoint_mutated(cp: Checkpoint, at: int, char: str) -> None:
    body = cp.body()
    at %= len(body)
    with contextlib.suppress(CheckpointError):
        parse_checkpoint(body[:at] + char + body[at + 1 :])


@given(checkpoints)
def test_checkpoint_round_trip(cp: Checkpoint) -> None:
    assert parse_checkpoint(cp.body()) == cp


@given(checkpoints)
def test_signed_checkpoint_round_trip(cp: Checkpoint) -> None:
    data = sign_note(cp.body(), [LOG]).to_bytes()
    signed = open_checkpoint(data, [LOG.verifier()])
    assert signed.checkpoint == cp
