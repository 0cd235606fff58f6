"""Gossip messages (gossip.messages) and the network file (gossip.membership)."""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gossip.errors import (
    BadSignatureError,
    GossipError,
    MalformedMessageError,
    MembershipError,
    OversizedMessageError,
    ReplayError,
    UnknownSenderError,
)
from gossip.membership import choose_peer, parse_network
from gossip.messages import (
    DIGEST_ENTRY_SIZE,
    DOMAIN,
    MAX_INT,
    MAX_MESSAGE_BYTES,
    CheckpointRequest,
    Checkpoints,
    Digest,
    DigestEntry,
    Evidence,
    Message,
    Proof,
    ReplayGuard,
    Want,
    decode_message,
    encode_message,
    next_sequence,
    open_message,
)
from tests.gossip import COSIGNERS, WITNESS_KEYS
from tlog.keys import generate_signer

NAMES = ["alpha", "beta", "gamma"]
SIGNERS = dict(zip(NAMES, WITNESS_KEYS, strict=False))
NETWORK_FILE = "# test network\n\n" + "".join(
    f"witness {n}\t{k.vkey()}  https://{n}.example/gossip\n" for n, k in SIGNERS.items()
)
NETWORK = parse_network(NETWORK_FILE)
NOW = 1_700_000_000


def message(seq: int = 1, *, sender: str = "alpha", recipient: str = "beta", **kw: Any) -> Message:
    payloads = kw.pop("payloads", (Evidence(b"evidence"),))
    return Message(sender, recipient, seq, kw.pop("time", NOW), payloads)


def wire(msg: Message) -> bytes:
    return encode_message(msg, SIGNERS[msg.sender])


def receive(data: bytes, guard: ReplayGuard | None = None, me: str = "beta") -> Message:
    return open_message(data, me=me, network=NETWORK, guard=guard or ReplayGuard(), now=NOW)


def signed_raw(body: object, signer_name: str = "alpha") -> bytes:
    """A correctly signed message around an arbitrary body (to test the decoder alone)."""
    packed = msgpack.packb(body, use_bin_type=True)
    sig = SIGNERS[signer_name].sign_raw(DOMAIN + packed)
    return msgpack.packb([packed, sig], use_bin_type=True)


def body(**changes: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "v": 1,
        "from": "alpha",
        "to": "beta",
        "seq": 1,
        "time": NOW,
        "payloads": [["evidence", {"file": b"x"}]],
    }
    b.update(changes)
    return b


hashes = st.binary(min_size=32, max_size=32)


@st.composite
def digests(draw: st.DrawFn) -> Digest:
    entries = draw(
        st.lists(
            st.tuples(hashes, st.integers(0, MAX_INT), hashes, st.binary(min_size=2, max_size=2)),
            max_size=20,
            unique_by=lambda t: t[0],
        )
    )
    return Digest(
        tuple(
            DigestEntry(h, 0, bytes(32), bytes(2)) if size == 0 else DigestEntry(h, size, r, t)
            for h, size, r, t in sorted(entries)
        )
    )


@st.composite
def proofs(draw: st.DrawFn) -> Proof:
    old = draw(st.integers(1, MAX_INT - 1))
    new = draw(st.integers(old + 1, MAX_INT))
    return Proof(draw(hashes), old, new, tuple(draw(st.lists(hashes, max_size=64))))


payloads = st.one_of(
    digests(),
    st.lists(
        st.builds(Want, hashes, st.integers(0, MAX_INT)),
        max_size=10,
        unique_by=lambda w: w.origin_hash,
    ).map(lambda ws: CheckpointRequest(tuple(sorted(ws, key=lambda w: w.origin_hash)))),
    st.lists(st.binary(max_size=300), min_size=1, max_size=5).map(
        lambda ns: Checkpoints(tuple(ns))
    ),
    proofs(),
    st.binary(max_size=2000).map(Evidence),
)
messages = st.builds(
    Message,
    st.sampled_from(NAMES),
    st.sampled_from(NAMES),
    st.integers(1, MAX_INT),
    st.integers(0, MAX_INT),
    st.lists(payloads, min_size=1, max_size=4).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(messages)
def test_round_trip(msg: Message) -> None:
    data = wire(msg)
    signed = decode_message(data)
    assert signed.message == msg
    guard = ReplayGuard()
    got = open_message(data, me=msg.recipient, network=NETWORK, guard=guard, now=msg.time)
    assert got == msg
    assert guard.last(msg.sender) == msg.seq


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_malformed(data: bytes) -> None:
    with pytest.raises(MalformedMessageError):
        decode_message(data)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(msgpack_values, st.sampled_from(["payloads", "from", "seq", "v", "time"]))
def test_arbitrary_structures_raise_only_typed_errors(value: Any, key: str) -> None:
    for data in (signed_raw(value), signed_raw(body(**{key: value}))):
        try:
            decode_message(data)
        except MalformedMessageError:
            continue


@settings(max_examples=300, deadline=None)
@given(messages, st.data())
def test_any_byte_flip_is_rejected_and_changes_nothing(msg: Message, data: st.DataObject) -> None:
    raw = wire(msg)
    i = data.draw(st.integers(0, len(raw) - 1))
    flip = data.draw(st.integers(1, 255))
    bad = raw[:i] + bytes([raw[i] ^ flip]) + raw[i + 1 :]
    guard = ReplayGuard({"alpha": 0})
    with pytest.raises(GossipError):
        open_message(bad, me=msg.recipient, network=NETWORK, guard=guard, now=msg.time)
    assert guard.snapshot() == {"alpha": 0}


def test_replays_are_rejected() -> None:
    guard = ReplayGuard()
    first, second = wire(message(5)), wire(message(6))
    receive(first, guard)
    with pytest.raises(ReplayError, match="replay: already accepted up to 5"):
        receive(first, guard)
    receive(second, guard)
    with pytest.raises(ReplayError):
        receive(first, guard)
    with pytest.raises(ReplayError):
        receive(wire(message(6)), guard)
    assert guard.snapshot() == {"alpha": 6}
    # Another sender's sequence numbers are separate; a restored guard remembers.
    receive(wire(message(1, sender="gamma")), guard)
    restored = ReplayGuard(guard.snapshot())
    with pytest.raises(ReplayError):
        receive(second, restored)


def test_redirected_and_stale_messages_are_rejected() -> None:
    guard = ReplayGuard()
    with pytest.raises(ReplayError, match="addressed to beta"):
        receive(wire(message(1)), guard, me="gamma")
    for skew in (-301, 301):
        with pytest.raises(ReplayError, match="more than 300 s"):
            receive(wire(message(1, time=NOW + skew)), guard)
    assert guard.snapshot() == {}
    receive(wire(message(1, time=NOW + 300)), guard)


def test_forgeries_are_rejected() -> None:
    guard = ReplayGuard()
    # Signed by gamma's key but claiming to be from alpha.
    forged = encode_message(message(1), SIGNERS["gamma"])
    with pytest.raises(BadSignatureError, match="from alpha does not verify"):
        receive(forged, guard)
    stranger = encode_message(message(1, sender="mallory"), generate_signer("mallory"))
    with pytest.raises(UnknownSenderError, match="mallory"):
        receive(stranger, guard)
    # A cosignature by alpha's key is not a gossip signature (domain separation).
    packed = msgpack.packb(body(), use_bin_type=True)
    cosig = COSIGNERS[0].sign_at(packed, 0)[8:]
    with pytest.raises(BadSignatureError):
        receive(msgpack.packb([packed, cosig], use_bin_type=True), guard)
    assert guard.snapshot() == {}


def test_size_limits() -> None:
    with pytest.raises(OversizedMessageError):
        decode_message(b"\x00" * (MAX_MESSAGE_BYTES + 1))
    with pytest.raises(OversizedMessageError, match="payloads has 17 items"):
        decode_message(signed_raw(body(payloads=[["evidence", {"file": b""}]] * 17)))
    with pytest.raises(OversizedMessageError, match="evidence file"):
        decode_message(signed_raw(body(payloads=[["evidence", {"file": bytes(1 << 20 | 1)}]])))
    with pytest.raises(MalformedMessageError):
        encode_message(message(payloads=(Evidence(bytes(1 << 20 | 1)),)), SIGNERS["alpha"])


def test_digest_of_40000_logs_fits_in_3_mb() -> None:
    entries = tuple(
        DigestEntry(i.to_bytes(32, "big"), i + 1, bytes(32), b"ab") for i in range(40_000)
    )
    data = wire(message(payloads=(Digest(entries),)))
    assert len(data) <= 3_000_000
    assert decode_message(data).message.payloads[0] == Digest(entries)
    assert DIGEST_ENTRY_SIZE == 74


def entry(h: int, size: int = 1, root: bytes = b"r" * 32) -> bytes:
    return bytes([h]) * 32 + size.to_bytes(8, "big") + root + b"tg"


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        (body(v=2), "version"),
        (body(v=True), "version"),
        (body(seq=True), "want an integer"),
        (body(seq=0), "out of range"),
        (body(seq=2**63), "out of range"),
        (body(time=-1), "out of range"),
        (body(time=1.5), "want an integer"),
        (body(**{"from": "has space"}), "not a valid witness name"),
        (body(to=b"beta"), "want a string"),
        (body(extra=1), "keys"),
        (body(payloads=[]), "at least 1"),
        (body(payloads=[["gossip", {}]]), "unknown type"),
        (body(payloads=[["evidence", {"file": "text"}]]), "want bin"),
        (body(payloads=[["evidence", {"file": b"", "x": 1}]]), "keys"),
        (body(payloads=[["digest", {"logs": entry(2) + entry(1)}]]), "ascending"),
        (body(payloads=[["digest", {"logs": entry(1) + entry(1)}]]), "ascending"),
        (body(payloads=[["digest", {"logs": entry(1)[:-1]}]]), "multiple of 74"),
        (body(payloads=[["digest", {"logs": entry(1, 0)}]]), "zero root"),
        (body(payloads=[["digest", {"logs": entry(1, 2**63)}]]), "exceeds"),
        (body(payloads=[["checkpoint-request", {"logs": [[b"h" * 31, 1]]}]]), "32"),
        (body(payloads=[["checkpoint-request", {"logs": [[b"h" * 32]]}]]), "at least 2"),
        (body(payloads=[["checkpoints", {"notes": []}]]), "at least 1"),
        (body(payloads=[["checkpoints", {"notes": ["text"]}]]), "want bin"),
        (
            body(payloads=[["proof", {"origin": b"o" * 32, "old": 5, "new": 5, "hashes": []}]]),
            "want old < new",
        ),
        (
            body(payloads=[["proof", {"origin": b"o" * 32, "old": 0, "new": 5, "hashes": []}]]),
            "out of range",
        ),
        (
            body(
                payloads=[
                    ["proof", {"origin": b"o" * 32, "old": 1, "new": 5, "hashes": [b"h"] * 65}]
                ]
            ),
            "over 64",
        ),
        ([1, 2, 3], "want a map"),
    ],
)
def test_strict_decoding(obj: object, match: str) -> None:
    with pytest.raises(MalformedMessageError, match=match):
        decode_message(signed_raw(obj))


def test_framing_errors() -> None:
    good = wire(message())
    with pytest.raises(MalformedMessageError, match="extra data"):
        decode_message(good + b"\x00")
    with pytest.raises(MalformedMessageError, match="signature is 63 bytes"):
        packed = msgpack.packb(body(), use_bin_type=True)
        decode_message(msgpack.packb([packed, bytes(63)], use_bin_type=True))
    # Duplicate keys in a map: the packer never writes them, so splice the bytes.
    dup = b"\x82\xa1v\x01\xa1v\x01"
    with pytest.raises(MalformedMessageError, match="duplicate key"):
        decode_message(msgpack.packb([dup, bytes(64)], use_bin_type=True))


def test_encode_refuses_what_receivers_reject() -> None:
    for bad in (
        message(0),
        message(sender="two words"),
        message(payloads=()),
        message(payloads=(Checkpoints(()),)),
        message(payloads=(Digest((DigestEntry(b"x", 1, bytes(32), b"ab"),)),)),
        message(payloads=(Digest((DigestEntry(bytes(32), -1, bytes(32), b"ab"),)),)),
    ):
        with pytest.raises(MalformedMessageError):
            encode_message(bad, SIGNERS["alpha"])


def test_next_sequence_moves_forward() -> None:
    assert next_sequence(0, 1.5) == 1_500_000
    assert next_sequence(2_000_000, 1.5) == 2_000_001
    # A clock that went backwards never makes a sequence number go backwards.
    seqs = [0]
    for t in (10.0, 10.0, 9.0, 11.0):
        seqs.append(next_sequence(seqs[-1], t))
    assert seqs == sorted(set(seqs))


# Membership.


def test_network_file() -> None:
    assert [m.name for m in NETWORK.members] == NAMES
    alpha = NETWORK.get("alpha")
    assert alpha is not None and NETWORK.get("delta") is None
    assert alpha.url == "https://alpha.example/gossip"
    assert alpha.public == WITNESS_KEYS[0].public
    assert alpha.cosigner().vkey() == COSIGNERS[0].vkey()
    assert [c.key_id for c in NETWORK.cosigners()] == [c.key_id for c in COSIGNERS[:3]]
    # A 0x04 cosigner vkey names the same key.
    cosigner_form = parse_network(f"witness alpha {COSIGNERS[0].vkey()} http://127.0.0.1:8080\n")
    assert cosigner_form.members[0].public == WITNESS_KEYS[0].public


K0, K1 = WITNESS_KEYS[0].vkey(), WITNESS_KEYS[1].vkey()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "no witness lines"),
        ("# only a comment\n", "no witness lines"),
        (f"witness a {K0}\n", r":1: want 'witness <name> <vkey> <url>'"),
        (f"log a {K0} https://a\n", "want 'witness"),
        (f"witness a {K0} https://a\nwitness a {K1} https://b\n", ":2: duplicate name 'a'"),
        (f"witness a {K0} https://a\nwitness b {K0} https://b\n", ":2: same key as line 1"),
        (f"witness a {K0} ftp://a\n", "must be http"),
        (f"witness a {K0} https://\n", "must be http"),
        (f"witness a {K0} https://a/?q=1\n", "no query"),
        (f"witness a {K0} https://a:99999/\n", "bad URL"),
        (f"witness a {K0} https://a:0/\n", "must be http"),
        (f"witness a {K0[:-2]}AA https://a\n", "key"),
        ("witness a a+00000000+AQ== https://a\n", "key"),
        (f"witness a\x07 {K0} https://a\n", "control character"),
        (f"witness a+b {K0} https://a\n", "invalid witness name"),
    ],
)
def test_bad_network_files(text: str, match: str) -> None:
    with pytest.raises(MembershipError, match=match):
        parse_network(text, "net.txt")


def test_network_file_rejects_non_ed25519_keys() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from tlog.keys import ECDSAVerifier

    der = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    vkey = ECDSAVerifier("ecdsa", der).vkey()
    with pytest.raises(MembershipError, match="not an Ed25519 key"):
        parse_network(f"witness a {vkey} https://a\n")
    with pytest.raises(MembershipError, match="not UTF-8"):
        parse_network(b"witness \xff")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_network_files_raise_only_membership_errors(text: str) -> None:
    with contextlib.suppress(MembershipError):
        parse_network(text)


def test_choose_peer_is_uniform_and_never_self() -> None:
    rng = random.Random(1)
    counts = Counter(choose_peer(NETWORK.members, "beta", rng).name for _ in range(6000))
    assert set(counts) == {"alpha", "gamma"}
    assert all(2700 < c < 3300 for c in counts.values())
    alone = parse_network(f"witness alpha {K0} https://a\n")
    with pytest.raises(MembershipError, match="no member other than"):
        choose_peer(alone.members, "alpha", rng)
