"""Trust policies (tlog.policy): parsing C2SP tlog-policy and Sigsum policies, quorum evaluation."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vectors import litewitness_checkpoint, litewitness_vkey, load, sigsum_seed
from tlog.checkpoint import Checkpoint
from tlog.cosignature import (
    CosignatureV1Signer,
    CosignatureV1Verifier,
    MLDSA44CosignatureSigner,
    parse_cosigner_vkey,
)
from tlog.errors import (
    InvalidSignatureError,
    MalformedPolicyError,
    QuorumNotMetError,
    TlogError,
    UnverifiedNoteError,
)
from tlog.keys import ALG_COSIGNATURE_V1, Ed25519Signer, key_id, parse_vkey
from tlog.note import Note, Signature, parse_note, sign_note
from tlog.policy import Group, Log, Policy, parse_policy, sigsum_origin, verify_cosigned_checkpoint

POLICIES = load("policies.txt")
LOG = Ed25519Signer("example.com/log", bytes(32))
CHECKPOINT = Checkpoint("example.com/log", 10, bytes(range(32)))
BODY = CHECKPOINT.body()
WITNESS_KEYS = {
    name: Ed25519Signer(f"{name.lower()}.example/witness", bytes([i + 1]) * 32)
    for i, name in enumerate(["X1", "X2", "X3", "Y1", "Y2", "Y3", "W0", "W1", "W2", "W3"])
}
COSIGNERS = {
    name: CosignatureV1Signer(key, clock=lambda: 1000) for name, key in WITNESS_KEYS.items()
}
# One cosignature line per witness, computed once.
COSIGNATURES = {
    name: Signature(c.name, c.key_id, c.sign(BODY.encode())) for name, c in COSIGNERS.items()
}


def checkpoint_note(*witnesses: str) -> bytes:
    """The log-signed checkpoint with the cosignatures of `witnesses` (policy names)."""
    note = sign_note(BODY, [LOG])
    return Note(note.text, note.signatures + tuple(COSIGNATURES[w] for w in witnesses)).to_bytes()


def c2sp_example_policy() -> str:
    """The spec's example with real vkeys: the log, then X1..X3 and Y1..Y3 in order."""
    vkeys = iter([LOG.vkey(), *(COSIGNERS[n].vkey() for n in ["X1", "X2", "X3", "Y1", "Y2", "Y3"])])
    return re.sub("<vkey>", lambda _: next(vkeys), POLICIES.text("c2sp-tlog-policy-example"))


# --- the real policies ------------------------------------------------------------


def hex_keys(section: str) -> dict[str, bytes]:
    """The raw keys of a Sigsum policy: log origin or witness name -> public key."""
    keys = {}
    for line in POLICIES.lines(section):
        words = line.split()
        if words[:1] == ["log"]:
            keys[sigsum_origin(bytes.fromhex(words[1]))] = bytes.fromhex(words[1])
        elif words[:1] == ["witness"]:
            keys[words[1]] = bytes.fromhex(words[2])
    return keys


def test_sigsum_generic_2025_1() -> None:
    policy = parse_policy(POLICIES["sigsum-generic-2025-1"])
    keys = hex_keys("sigsum-generic-2025-1")
    omniwitness = load("armored-witness-cosigned-checkpoints.txt").lines(
        "all-omniwitness-log-vkeys"
    )
    seasalp, ginkgo = policy.logs
    assert (seasalp.url, ginkgo.url) == (
        "https://seasalp.glasklar.is",
        "https://ginkgo.tlog.mullvad.net",
    )
    for log in policy.logs:
        assert log.origin == log.verifier.name
        assert log.verifier == parse_vkey(log.verifier.vkey())  # type: ignore[attr-defined]
        assert log.verifier.public == keys[log.origin]  # type: ignore[attr-defined]
    # The same log as the omniwitness lists: origin and key ID from the key, type 0x01.
    assert seasalp.verifier.vkey() in omniwitness  # type: ignore[attr-defined]
    assert [w.name for w in policy.witnesses] == [
        "witness.glasklar.is",
        "witness.mullvad.net",
        "tillitis.se/tillitis-witness-1",
    ]
    for w in policy.witnesses:
        assert isinstance(w.verifier, CosignatureV1Verifier)
        assert (w.verifier.name, w.verifier.public, w.url) == (w.name, keys[w.name], None)
        assert w.verifier.key_id == key_id(w.name, ALG_COSIGNATURE_V1, keys[w.name])
    assert policy.groups == (Group("quorum-rule", 2, tuple(w.name for w in policy.witnesses)),)
    assert policy.quorum == "quorum-rule"


def test_sigsum_test_2025_3() -> None:
    policy = parse_policy(POLICIES.text("sigsum-test-2025-3"))
    keys = hex_keys("sigsum-test-2025-3")
    barreleye = policy.logs[0]
    assert barreleye.url == "https://test.sigsum.org/barreleye"
    testing_list = load("witness-network-log-lists.txt").text("testing/log-list.1")
    assert f"vkey {barreleye.verifier.vkey()}\n" in testing_list  # type: ignore[attr-defined]
    assert len(policy.witnesses) == 8
    for w in policy.witnesses:
        assert w.verifier.key_id == key_id(w.name, ALG_COSIGNATURE_V1, keys[w.name])
    glasklar, rule = policy.groups
    assert glasklar == Group(
        "glasklar-test-witnesses",
        2,
        ("poc.sigsum.org/nisse", "rgdd.se/poc-witness", "witness1.smartit.nu/witness1"),
    )
    assert rule.threshold == 4 and len(rule.members) == 6
    assert rule.members[0] == "glasklar-test-witnesses"
    assert policy.quorum == "quorum-rule"


def test_c2sp_example_structure() -> None:
    policy = parse_policy(c2sp_example_policy())
    assert [log.origin for log in policy.logs] == ["example.com/log"]
    assert [w.name for w in policy.witnesses] == ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
    assert [w.verifier for w in policy.witnesses] == [
        COSIGNERS[n].verifier() for n in ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
    ]
    assert policy.groups == (
        Group("X-witnesses", 2, ("X1", "X2", "X3")),
        Group("Y-witnesses", 1, ("Y1", "Y2", "Y3")),
        Group("X-and-Y", 2, ("X-witnesses", "Y-witnesses")),
    )
    assert policy.quorum == "X-and-Y"


# --- quorum evaluation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("cosigners", "ok"),
    [
        (["X1", "X2", "Y1"], True),
        (["X2", "X3", "Y3"], True),
        (["X1", "X2", "X3", "Y1", "Y2", "Y3"], True),
        (["X1", "Y1", "Y2", "Y3"], False),
        (["X1", "X2", "X3"], False),
        ([], False),
    ],
)
def test_c2sp_example_quorum(cosigners: list[str], ok: bool) -> None:
    policy = parse_policy(c2sp_example_policy())
    data = checkpoint_note(*cosigners)
    assert policy.quorum_satisfied(parse_note(data)) is ok
    if ok:
        cp, names = verify_cosigned_checkpoint(data, policy)
        assert cp == CHECKPOINT
        assert names == set(cosigners)
    else:
        with pytest.raises(QuorumNotMetError, match="quorum X-and-Y not met"):
            verify_cosigned_checkpoint(data, policy)


def test_quorum_message_says_which_group_fell_short() -> None:
    policy = parse_policy(c2sp_example_policy())
    with pytest.raises(QuorumNotMetError) as e:
        policy.check_quorum(parse_note(checkpoint_note("X1", "Y2")))
    msg = str(e.value)
    assert "group X-witnesses has 1 of the 2 required (of 3 members)" in msg
    assert "group X-and-Y has 1 of the 2 required (of 2 members)" in msg
    assert "Y-witnesses has" not in msg
    assert "valid cosignatures from: X1, Y2" in msg


def witness_lines(*names: str) -> str:
    return "".join(f"witness {n} {COSIGNERS[n].vkey()}\n" for n in names)


W = ["W0", "W1", "W2", "W3"]


@pytest.mark.parametrize(
    ("rule", "cosigners", "ok"),
    [
        ("any W0 W1 W2 W3", ["W2"], True),
        ("any W0 W1 W2 W3", [], False),
        ("all W0 W1 W2 W3", W, True),
        ("all W0 W1 W2 W3", W[:3], False),
        ("3 W0 W1 W2 W3", ["W0", "W1", "W3"], True),
        ("3 W0 W1 W2 W3", ["W0", "W3"], False),
        ("1 W0", ["W0"], True),
        ("1 W0", ["W1", "W2", "W3"], False),
    ],
)
def test_threshold_forms(rule: str, cosigners: list[str], ok: bool) -> None:
    policy = parse_policy(f"log {LOG.vkey()}\n{witness_lines(*W)}group g {rule}\nquorum g\n")
    assert policy.quorum_satisfied(parse_note(checkpoint_note(*cosigners))) is ok


def test_nested_groups_three_levels() -> None:
    text = (
        witness_lines(*W)
        + "group a any W0 W1\ngroup b all W2 W3\ngroup ab all a b\n"
        + "group top any ab W3\nquorum top\n"
    )
    policy = parse_policy(text)
    assert policy.quorum_satisfied(parse_note(checkpoint_note("W3")))
    assert policy.quorum_satisfied(parse_note(checkpoint_note("W1", "W2", "W3")))
    assert not policy.quorum_satisfied(parse_note(checkpoint_note("W0", "W1", "W2")))


def test_single_witness_quorum() -> None:
    policy = parse_policy(witness_lines("W0", "W1") + "quorum W1\n")
    assert policy.check_quorum(parse_note(checkpoint_note("W0", "W1"))) == {"W0", "W1"}
    with pytest.raises(QuorumNotMetError, match="witness W1 has not cosigned"):
        policy.check_quorum(parse_note(checkpoint_note("W0")))


def test_quorum_none_needs_no_witnesses() -> None:
    policy = parse_policy(f"log {LOG.vkey()}\nquorum none\n")
    assert policy.quorum is None
    assert verify_cosigned_checkpoint(checkpoint_note(), policy) == (CHECKPOINT, set())
    with_witness = parse_policy(f"log {LOG.vkey()}\n{witness_lines('W0')}quorum none\n")
    assert verify_cosigned_checkpoint(checkpoint_note("W0"), with_witness)[1] == {"W0"}


def test_all_witness_key_types_count() -> None:
    mldsa = MLDSA44CosignatureSigner("pq.example/witness", bytes([5]) * 32)
    ed = WITNESS_KEYS["W0"]
    text = (
        f"log {LOG.vkey()} https://log.example/\n"
        f"witness ed01 {ed.vkey()} https://w0.example/\n"  # type 0x01, used as 0x04
        f"witness ed04 {COSIGNERS['W1'].vkey()}\n"
        f"witness pq {mldsa.verifier().vkey()}\n"
        f"group g all ed01 ed04 pq\nquorum g\n"
    )
    policy = parse_policy(text)
    assert policy.logs[0].url == "https://log.example/"
    assert policy.witnesses[0].url == "https://w0.example/"
    assert policy.witnesses[0].verifier == parse_cosigner_vkey(ed.vkey())
    note = sign_note(BODY, [LOG, COSIGNERS["W0"], COSIGNERS["W1"], mldsa])
    assert verify_cosigned_checkpoint(note.to_bytes(), policy)[1] == {"ed01", "ed04", "pq"}


def test_failing_cosignature_is_not_counted_and_does_not_reject() -> None:
    policy = parse_policy(
        f"log {LOG.vkey()}\n{witness_lines('W0', 'W1')}group g any W0 W1\nquorum g\n"
    )
    good = COSIGNATURES["W1"]
    bad = dataclasses.replace(COSIGNATURES["W0"], signature=bytes(72))
    note = sign_note(BODY, [LOG])
    data = Note(note.text, (*note.signatures, bad, good)).to_bytes()
    assert verify_cosigned_checkpoint(data, policy)[1] == {"W1"}
    only_bad = Note(note.text, (*note.signatures, bad)).to_bytes()
    with pytest.raises(QuorumNotMetError):
        verify_cosigned_checkpoint(only_bad, policy)


def test_duplicate_cosignature_counts_once() -> None:
    policy = parse_policy(witness_lines(*W) + "group g 2 W0 W1 W2 W3\nquorum g\n")
    assert not policy.quorum_satisfied(parse_note(checkpoint_note("W0", "W0")))


def test_cosignature_from_another_checkpoint_is_not_counted() -> None:
    policy = parse_policy(f"log {LOG.vkey()}\n{witness_lines('W0')}quorum W0\n")
    other = dataclasses.replace(CHECKPOINT, size=11).body()
    stale = COSIGNERS["W0"].sign_at(other.encode(), 1000)
    note = sign_note(BODY, [LOG])
    sig = Signature(COSIGNERS["W0"].name, COSIGNERS["W0"].key_id, stale)
    with pytest.raises(QuorumNotMetError):
        verify_cosigned_checkpoint(Note(note.text, (*note.signatures, sig)).to_bytes(), policy)


def test_log_signature_checks() -> None:
    policy = parse_policy(f"log {LOG.vkey()}\nquorum none\n")
    impostor = Ed25519Signer(LOG.name, bytes([1]) * 32)
    with pytest.raises(UnverifiedNoteError):
        verify_cosigned_checkpoint(sign_note(BODY, [impostor]).to_bytes(), policy)
    note = sign_note(BODY, [LOG])
    bad = dataclasses.replace(note.signatures[0], signature=bytes(64))
    with pytest.raises(InvalidSignatureError):
        verify_cosigned_checkpoint(Note(note.text, (bad,)).to_bytes(), policy)
    other_origin = dataclasses.replace(CHECKPOINT, origin="example.com/other").body()
    with pytest.raises(UnverifiedNoteError, match=r"no log with origin 'example\.com/other'"):
        verify_cosigned_checkpoint(sign_note(other_origin, [LOG]).to_bytes(), policy)
    # A witness's cosignature is not a log signature.
    as_witness = parse_policy(witness_lines("W0") + "quorum none\n")
    assert as_witness.log_verifiers(CHECKPOINT.origin) == []


def test_log_verifiers_by_origin() -> None:
    other = Ed25519Signer("example.com/other", bytes([3]) * 32)
    policy = parse_policy(f"log {LOG.vkey()}\nlog {other.vkey()}\nquorum none\n")
    assert policy.log_verifiers("example.com/log") == [LOG.verifier()]
    assert policy.log_verifiers("example.com/other") == [other.verifier()]
    assert policy.log_verifiers("example.com/nope") == []


# --- the vectors through a policy ---------------------------------------------------


def test_sigsum_checkpoint_vector_through_hex_policy() -> None:
    sigsum = load("sigsum-testkey17-checkpoint-and-cosignature.txt")
    public = Ed25519Signer("x", sigsum_seed(sigsum)).public
    policy = parse_policy(f"log {public.hex()}\nquorum none\n")
    cp, names = verify_cosigned_checkpoint(sigsum["sigsum-checkpoint"], policy)
    assert cp.origin == sigsum_origin(public) == policy.logs[0].origin
    assert (cp.size, names) == (10, set())


def test_sigsum_cosignature_lines_through_hex_policy() -> None:
    """Lines 1 and 3 are unknown, line 4 fails: only line 2 counts, and the note stands."""
    sigsum = load("sigsum-testkey17-checkpoint-and-cosignature.txt")
    public = Ed25519Signer("x", sigsum_seed(sigsum)).public
    policy = parse_policy(
        f"witness example.org/witness {public.hex().upper()}\nquorum example.org/witness\n"
    )
    note = parse_note(sigsum["cosigned-body"] + b"\n" + sigsum["cosignature-lines"])
    assert policy.check_quorum(note) == {"example.org/witness"}


def test_litewitness_log_through_hex_policy() -> None:
    lite = load("litewitness-add-checkpoint-sequence.txt")
    policy = parse_policy(f"log {lite.line('log-pubkey-hex')}\nquorum none\n")
    assert policy.logs[0].verifier.vkey() == litewitness_vkey(lite)  # type: ignore[attr-defined]
    cp, _ = verify_cosigned_checkpoint(litewitness_checkpoint(lite, "request-1"), policy)
    assert cp.size == 1


def test_armored_witness_checkpoint_with_explicit_origin() -> None:
    """Pixel's key name differs from its origin: a Policy built in code names the origin."""
    aw = load("armored-witness-cosigned-checkpoints.txt")
    witnesses = aw.lines("armored-witness-prod-vkeys")
    names = [v.split("+")[0] for v in witnesses]
    text = (
        f"log {aw.line('pixel-log-vkey')}\n"
        + "".join(f"witness {n} {v}\n" for n, v in zip(names, witnesses, strict=True))
        + f"group two 2 {' '.join(names)}\ngroup three 3 {' '.join(names)}\nquorum two\n"
    )
    parsed = parse_policy(text)
    with pytest.raises(UnverifiedNoteError, match="no log with origin"):
        verify_cosigned_checkpoint(aw["pixel-611"], parsed)
    origin = aw.lines("pixel-611")[0]
    policy = dataclasses.replace(parsed, logs=(Log(origin, parsed.logs[0].verifier),))
    cp, signed = verify_cosigned_checkpoint(aw["pixel-611"], policy)
    assert (cp.origin, cp.size) == (origin, 611)
    assert signed == {"ArmoredWitness-small-breeze", "ArmoredWitness-autumn-wood"}
    with pytest.raises(QuorumNotMetError, match="group three has 2 of the 3 required"):
        verify_cosigned_checkpoint(aw["pixel-611"], dataclasses.replace(policy, quorum="three"))


# --- syntax -------------------------------------------------------------------------


def test_whitespace_comments_and_layout() -> None:
    text = (
        "   # indented comment\n"
        " \t\n"
        f"\twitness \t W0   {COSIGNERS['W0'].vkey()}  \n"
        "quorum W0\n"
        f"witness W1 {COSIGNERS['W1'].vkey()}\n"  # lines after the quorum are fine
        "# no final newline"
    )
    policy = parse_policy(text)
    assert [w.name for w in policy.witnesses] == ["W0", "W1"]
    assert policy.quorum == "W0"


def test_names_are_opaque_octets() -> None:
    """Non-ASCII octets (even invalid UTF-8) may appear in names and comments."""
    w0 = COSIGNERS["W0"].vkey().encode()
    data = (
        b"# caf\xe9\nwitness K " + w0 + b"\nwitness \xe2\x84\xaa " + COSIGNERS["W1"].vkey().encode()
    )
    data += b"\ngroup \xff all K \xe2\x84\xaa\nquorum \xff\n"
    policy = parse_policy(data)
    assert len({w.name for w in policy.witnesses}) == 2
    assert policy.quorum_satisfied(parse_note(checkpoint_note("W0", "W1")))
    assert not policy.quorum_satisfied(parse_note(checkpoint_note("W0")))


def test_keywords_may_be_names() -> None:
    policy = parse_policy(
        witness_lines("W0").replace("W0", "all", 1) + "group any any all\nquorum any\n"
    )
    assert policy.groups == (Group("any", 1, ("all",)),)


def test_empty_policy_sections() -> None:
    policy = parse_policy("quorum none\n")
    assert policy == Policy((), (), (), None)


LOG_VKEY = LOG.vkey()
W0_VKEY = COSIGNERS["W0"].vkey()
W1_VKEY = COSIGNERS["W1"].vkey()
W0_HEX = WITNESS_KEYS["W0"].public.hex()
PIXEL_VKEY = load("armored-witness-cosigned-checkpoints.txt").line("pixel-log-vkey")


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("lgo x\nquorum none\n", 1, "unknown keyword 'lgo'"),
        ("quorum none\nLOG x\n", 2, "unknown keyword 'LOG'"),
        (f"witness\u00a0W0 {W0_VKEY}\nquorum none\n", 1, "unknown keyword"),
        ("log\nquorum none\n", 1, "want 'log <vkey> [<url>]'"),
        (f"log {LOG_VKEY} https://a https://b\nquorum none\n", 1, "want 'log"),
        ("\n\nlog not-a-vkey\nquorum none\n", 3, "bad log key"),
        (f"log {LOG_VKEY[:-2]}\nquorum none\n", 1, "bad log key"),
        (f"log {W0_VKEY}\nquorum none\n", 1, "not a log signature type"),
        (f"log {'ab' * 31}\nquorum none\n", 1, "bad log key"),
        (f"log {LOG_VKEY}\nlog {LOG_VKEY}\nquorum none\n", 2, "duplicate log key"),
        (
            f"log {LOG_VKEY}\nlog {LOG.public.hex()}\nquorum none\n",
            2,
            "duplicate log key (same public key as line 1)",
        ),
        ("witness W0\nquorum none\n", 1, "want 'witness <name> <vkey> [<url>]'"),
        (f"witness W0 {W0_VKEY} u extra\nquorum none\n", 1, "want 'witness"),
        ("witness W0 nope\nquorum none\n", 1, "bad witness key"),
        (
            f"witness W0 {PIXEL_VKEY}\nquorum none\n",
            1,
            "bad witness key",
        ),
        (f"witness W0 {W0_VKEY}\nwitness W0 {W1_VKEY}\nquorum none\n", 2, "duplicate name 'W0'"),
        (
            f"witness W0 {W0_VKEY}\nwitness W1 {W0_VKEY}\nquorum none\n",
            2,
            "duplicate witness key",
        ),
        (
            f"witness W0 {W0_VKEY}\nwitness W1 {W0_HEX}\nquorum none\n",
            2,
            "duplicate witness key",
        ),
        (
            f"witness W0 {WITNESS_KEYS['W0'].vkey()}\nwitness W1 {W0_VKEY}\nquorum none\n",
            2,
            "duplicate witness key",
        ),
        (f"witness a+b {W0_HEX}\nquorum none\n", 1, "not a valid key name"),
        (f"witness none {W0_VKEY}\nquorum none\n", 1, "'none' is reserved"),
        (f"witness W0 {W0_VKEY}\ngroup W0 any W0\nquorum W0\n", 2, "duplicate name 'W0'"),
        (f"witness W0 {W0_VKEY}\ngroup g any\nquorum g\n", 2, "at least one member"),
        (f"witness W0 {W0_VKEY}\ngroup g any W9\nquorum g\n", 2, "'W9' is not defined"),
        (
            f"group g any W0\nwitness W0 {W0_VKEY}\nquorum g\n",
            1,
            "'W0' is defined later, on line 2",
        ),
        (f"witness W0 {W0_VKEY}\ngroup g any g\nquorum g\n", 2, "'g' is the group itself"),
        (f"witness W0 {W0_VKEY}\ngroup g any W0 none\nquorum g\n", 2, "cannot be 'none'"),
        (f"witness W0 {W0_VKEY}\ngroup g any W0 W0\nquorum g\n", 2, "lists 'W0' twice"),
        (f"witness W0 {W0_VKEY}\ngroup g 0 W0\nquorum g\n", 2, "threshold 0 out of range"),
        (f"{witness_lines('W0', 'W1')}group g 3 W0 W1\nquorum g\n", 3, "k must be 1..2"),
        (f"witness W0 {W0_VKEY}\ngroup g {'9' * 5000} W0\nquorum g\n", 2, "out of range"),
        (f"witness W0 {W0_VKEY}\ngroup g 01 W0\nquorum g\n", 2, "leading zeros"),
        (f"witness W0 {W0_VKEY}\ngroup g -1 W0\nquorum g\n", 2, "must be 'all', 'any'"),
        (f"witness W0 {W0_VKEY}\ngroup g +1 W0\nquorum g\n", 2, "must be 'all', 'any'"),
        (f"witness W0 {W0_VKEY}\ngroup g ALL W0\nquorum g\n", 2, "must be 'all', 'any'"),
        (f"witness W0 {W0_VKEY}\ngroup g \u0661 W0\nquorum g\n", 2, "must be 'all', 'any'"),
        ("quorum none\nquorum none\n", 2, "second quorum line (the first is on line 1)"),
        ("quorum\n", 1, "want 'quorum <name>'"),
        ("quorum a b\n", 1, "want 'quorum <name>'"),
        ("quorum W0\n", 1, "quorum 'W0' is not defined"),
        (f"quorum W0\nwitness W0 {W0_VKEY}\n", 1, "defined later, on line 2"),
        ("quorum none\r\n", 1, "control character 0x0d"),
        ("quorum none\n\x00\n", 2, "control character 0x00"),
        ("# \x7f\nquorum none\n", 1, "control character 0x7f"),
        ("quorum none\x0b\n", 1, "control character 0x0b"),
    ],
)
def test_malformed_policy(text: str, line: int, problem: str) -> None:
    with pytest.raises(MalformedPolicyError) as e:
        parse_policy(text)
    assert f"line {line}: " in str(e.value)
    assert problem in str(e.value)


@pytest.mark.parametrize("text", ["", "# only a comment\n", f"log {LOG.vkey()}\n"])
def test_missing_quorum(text: str) -> None:
    with pytest.raises(MalformedPolicyError, match="no quorum line"):
        parse_policy(text)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"witness W0 \xff" + W0_VKEY.encode(), "line 1: bad witness key: .*invalid key name"),
        (b"log \xff" + LOG_VKEY.encode(), "line 1: bad log key: .*invalid key name"),
        (b"witness \xff " + W0_HEX.encode(), "line 1: witness name .* is not a valid key name"),
    ],
)
def test_key_with_invalid_utf8_is_malformed(data: bytes, problem: str) -> None:
    with pytest.raises(MalformedPolicyError, match=problem):
        parse_policy(data + b"\nquorum none\n")


# --- fuzzing ------------------------------------------------------------------------

KEYS = [LOG_VKEY, W0_VKEY, W1_VKEY, W0_HEX, LOG.public.hex(), PIXEL_VKEY, "bad+key", "ab" * 31]
NAMES = st.sampled_from(["a", "b", "c", "W0", "none", "any"])
KEY = st.sampled_from(KEYS)
URL = st.lists(st.just("https://x.example/"), max_size=2)
LINES = st.one_of(
    st.tuples(st.just("log"), KEY).map(list)
    | st.tuples(st.just("log"), KEY, URL).map(lambda t: [t[0], t[1], *t[2]]),
    st.tuples(st.just("witness"), NAMES, KEY, URL).map(lambda t: [*t[:3], *t[3]]),
    st.tuples(
        st.just("group"),
        NAMES,
        st.sampled_from(["1", "2", "3", "0", "01", "any", "all", "x"]),
        st.lists(NAMES, max_size=4),
    ).map(lambda t: [*t[:3], *t[3]]),
    st.tuples(st.just("quorum"), NAMES).map(list),
    st.just(["#", "comment"]),
    st.just([]),
    st.lists(st.sampled_from(["log", "quorum", "x", "\x00", "\u00a0"]), max_size=3),
)


@st.composite
def near_valid_policies(draw: st.DrawFn) -> str:
    """Grammar-shaped lines, mostly valid, joined by random separators."""
    lines = draw(st.lists(LINES, max_size=8))
    if draw(st.integers(0, 3)):
        lines.append(["quorum", draw(NAMES)])
    sep = draw(st.sampled_from([" ", "\t", "  ", " \t"]))
    end = draw(st.sampled_from(["", "\n", "\n", "\n", "\r\n"]))
    return "\n".join(sep.join(t) for t in lines) + end


@given(st.binary(max_size=300))
def test_parse_policy_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(TlogError):
        parse_policy(data)


@given(st.text(max_size=300))
def test_parse_policy_arbitrary_text(text: str) -> None:
    with contextlib.suppress(TlogError):
        parse_policy(text)


@given(near_valid_policies())
@settings(max_examples=300)
def test_parse_policy_near_valid(text: str) -> None:
    # Also as bytes with an octet that is not UTF-8 in names (opaque) and keys (malformed).
    for data in (text, text.encode().replace(b"W0", b"W\xff").replace(b"example", b"ex\xffample")):
        try:
            policy = parse_policy(data)
        except MalformedPolicyError:
            continue
        with contextlib.suppress(QuorumNotMetError):
            policy.check_quorum(parse_note(checkpoint_note("W0")))


@st.composite
def random_policies(draw: st.DrawFn) -> tuple[Policy, dict[str, tuple[int, list[str]]]]:
    """A policy over W0..W3 with random groups; and the same groups as a plain dict."""
    names = list(W)
    groups: dict[str, tuple[int, list[str]]] = {}
    lines = [witness_lines(*W)]
    for i in range(draw(st.integers(0, 4))):
        members = draw(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True))
        k = draw(st.integers(1, len(members)))
        form = draw(st.sampled_from(["k", "any", "all"]))
        word = {"k": str(k), "any": "any", "all": "all"}[form]
        k = {"k": k, "any": 1, "all": len(members)}[form]
        groups[f"g{i}"] = (k, members)
        lines.append(f"group g{i} {word} {' '.join(members)}\n")
        names.append(f"g{i}")
    quorum = draw(st.sampled_from(names))
    return parse_policy("".join(lines) + f"quorum {quorum}\n"), groups


def reference_satisfied(
    name: str, groups: dict[str, tuple[int, list[str]]], signed: set[str]
) -> bool:
    if name not in groups:
        return name in signed
    k, members = groups[name]
    return sum(reference_satisfied(m, groups, signed) for m in members) >= k


@given(random_policies(), st.sets(st.sampled_from(W)))
def test_quorum_matches_reference_evaluation(
    drawn: tuple[Policy, dict[str, tuple[int, list[str]]]], signed: set[str]
) -> None:
    policy, groups = drawn
    note = parse_note(checkpoint_note(*sorted(signed)))
    assert policy.quorum is not None
    assert policy.quorum_satisfied(note) is reference_satisfied(policy.quorum, groups, signed)
    assert policy.cosigners(note) == signed


def test_sigsum_origin_rule() -> None:
    public = bytes(range(32))
    assert sigsum_origin(public) == "sigsum.org/v1/tree/" + hashlib.sha256(public).hexdigest()
