"""Gossip messages: msgpack bodies signed by the sending witness's Ed25519 key.

Wire format. A message is the msgpack array `[body, signature]`: `body` is a
bin holding the msgpack encoding of the body map, `signature` a 64-byte bin,
Ed25519 by the sender's witness key over

    b"witnessnet/gossip/v1\\n" || body

The prefix separates gossip signatures from every other use of the witness
key: cosignature/v1 messages start with `cosignature/v1\\n`, signed notes are
checkpoint texts, suspicion records start with `witnessnet/suspicion/v1\\n`.

The body is a map with exactly these keys:

    "v"        1
    "from"     the sender's name in the network file (a valid note key name)
    "to"       the recipient's name: a message cannot be redirected to another peer
    "seq"      1 .. 2^63-1; strictly larger than every earlier message from this sender
    "time"     POSIX seconds, 0 .. 2^63-1; within MAX_CLOCK_SKEW of the receiver's clock
    "payloads" an array of 1 .. MAX_PAYLOADS items [type, fields], where fields is a map:

    "digest"             {"logs": bin}: DIGEST_ENTRY_SIZE-byte records, one per log,
                         strictly ascending by origin hash: SHA-256(origin) (32 bytes) ||
                         size (uint64 big-endian, <= 2^63-1) || root (32) || cosigner tag (2).
                         A log with nothing to show has size 0, a zero root and a zero tag.
    "checkpoint-request" {"logs": [[origin hash: bin 32, have size: uint], ...]}, strictly
                         ascending by origin hash: send me your checkpoint of these logs, and
                         a consistency proof from the size I have if you can.
    "checkpoints"        {"notes": [bin, ...]}: log-signed checkpoint notes, each with the
                         cosignatures the sender knows, byte for byte.
    "proof"              {"origin": bin 32, "old": uint, "new": uint, "hashes": [bin 32, ...]}:
                         an RFC 9162 consistency proof, 1 <= old < new, for the log whose
                         origin hash is given.
    "evidence"           {"file": bin}: an evidence file (gossip.evidence).

A 40,000-log digest is 40,000 * 74 bytes = 2.96 MB. Maps have no duplicate
keys; integers are msgpack ints (not booleans); strings are UTF-8.

Receiving (open_message) checks, in order: size and structure (else
MalformedMessageError, OversizedMessageError), a known sender (else
UnknownSenderError), the signature (else BadSignatureError), then the
recipient, the time window and the sequence number (else ReplayError). Only a
message that passes every check moves the sender's last sequence number.
Senders pick sequence numbers with next_sequence, from the clock in
microseconds, so a restart without persisted state still moves forward.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import msgpack
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from gossip.errors import (
    BadSignatureError,
    MalformedMessageError,
    OversizedMessageError,
    ReplayError,
    UnknownSenderError,
)
from gossip.evidence import MAX_EVIDENCE_BYTES, MAX_PROOF_HASHES
from gossip.membership import Member, Network
from tlog.keys import Ed25519NoteSigner
from tlog.note import MAX_NOTE_BYTES, is_valid_key_name

DOMAIN = b"witnessnet/gossip/v1\n"
VERSION = 1
MAX_MESSAGE_BYTES = 8 << 20
MAX_PAYLOADS = 16
MAX_LOGS = 100_000
MAX_NOTES = 1024
MAX_NAME_BYTES = 255
MAX_CLOCK_SKEW = 300
MAX_INT = (1 << 63) - 1
HASH_SIZE = 32
TAG_SIZE = 2
DIGEST_ENTRY_SIZE = HASH_SIZE + 8 + HASH_SIZE + TAG_SIZE
SIGNATURE_SIZE = 64


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One log in a digest: SHA-256 of its origin, size, root and the cosigner tag.

    `tag` is a 2-byte fingerprint of the cosigners on the checkpoint
    (gossip.reconcile.cosigner_tag): equal views with different tags exchange
    their notes so that cosignatures aggregate.
    """

    origin_hash: bytes
    size: int
    root: bytes
    tag: bytes


@dataclass(frozen=True, slots=True)
class Digest:
    """The sender's view: one entry per log it follows, ascending by origin hash."""

    TYPE: ClassVar[str] = "digest"
    entries: tuple[DigestEntry, ...]


@dataclass(frozen=True, slots=True)
class Want:
    """A log whose checkpoint the sender wants, and the size it has (for the proof)."""

    origin_hash: bytes
    have_size: int


@dataclass(frozen=True, slots=True)
class CheckpointRequest:
    """Logs whose checkpoints the sender asks for, ascending by origin hash."""

    TYPE: ClassVar[str] = "checkpoint-request"
    wants: tuple[Want, ...]


@dataclass(frozen=True, slots=True)
class Checkpoints:
    """Full checkpoint notes, log signature and known cosignatures, byte for byte."""

    TYPE: ClassVar[str] = "checkpoints"
    notes: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Proof:
    """A consistency proof from `old_size` to `new_size` for the log with `origin_hash`."""

    TYPE: ClassVar[str] = "proof"
    origin_hash: bytes
    old_size: int
    new_size: int
    hashes: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Evidence:
    """An evidence or suspicion file (gossip.evidence), to be re-verified by the receiver."""

    TYPE: ClassVar[str] = "evidence"
    file: bytes


Payload = Digest | CheckpointRequest | Checkpoints | Proof | Evidence


@dataclass(frozen=True, slots=True)
class Message:
    """A gossip message: sender and recipient names, sequence number, time and payloads."""

    sender: str
    recipient: str
    seq: int
    time: int
    payloads: tuple[Payload, ...]


@dataclass(frozen=True, slots=True)
class SignedMessage:
    """A decoded message with the exact body bytes and the signature over them."""

    message: Message
    body: bytes
    signature: bytes


def origin_hash(origin: str) -> bytes:
    """SHA-256 of an origin line: how gossip names a log."""
    return hashlib.sha256(origin.encode("utf-8")).digest()


def next_sequence(previous: int, now: float) -> int:
    """The next sequence number after `previous`: the clock in microseconds, if it is larger."""
    return max(previous + 1, int(now * 1_000_000))


# Encoding.


def _payload_fields(p: Payload) -> dict[str, Any]:
    if isinstance(p, Digest):
        blob = b"".join(
            e.origin_hash + e.size.to_bytes(8, "big") + e.root + e.tag for e in p.entries
        )
        return {"logs": blob}
    if isinstance(p, CheckpointRequest):
        return {"logs": [[w.origin_hash, w.have_size] for w in p.wants]}
    if isinstance(p, Checkpoints):
        return {"notes": list(p.notes)}
    if isinstance(p, Proof):
        return {
            "origin": p.origin_hash,
            "old": p.old_size,
            "new": p.new_size,
            "hashes": list(p.hashes),
        }
    return {"file": p.file}


def _pack(obj: object) -> bytes:
    try:
        return msgpack.packb(obj, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as e:
        raise MalformedMessageError(f"cannot encode message: {e}") from None


def encode_message(message: Message, signer: Ed25519NoteSigner) -> bytes:
    """The signed wire bytes of `message` (a `blocking` signer: call from a worker thread).

    Raises MalformedMessageError (or OversizedMessageError) when the message
    breaks a rule that receivers enforce: what is sent always decodes.
    """
    try:
        payloads = [[p.TYPE, _payload_fields(p)] for p in message.payloads]
    except (AttributeError, TypeError, ValueError, OverflowError) as e:
        raise MalformedMessageError(f"cannot encode payload: {e}") from None
    body = _pack(
        {
            "v": VERSION,
            "from": message.sender,
            "to": message.recipient,
            "seq": message.seq,
            "time": message.time,
            "payloads": payloads,
        }
    )
    if _decode_body(body) != message:
        raise MalformedMessageError("message does not survive encoding (field types?)")
    data = _pack([body, signer.sign_raw(DOMAIN + body)])
    if len(data) > MAX_MESSAGE_BYTES:
        raise OversizedMessageError(f"message is {len(data)} bytes, over {MAX_MESSAGE_BYTES}")
    return data


# Decoding.


def _pairs(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise MalformedMessageError("map has a duplicate key")
    return out


def _unpack(data: bytes, what: str) -> Any:
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
            object_pairs_hook=_pairs,
            max_bin_len=MAX_MESSAGE_BYTES,
            max_str_len=MAX_NAME_BYTES,
            max_array_len=MAX_LOGS,
            max_map_len=8,
            max_ext_len=0,
        )
    except MalformedMessageError as e:
        raise MalformedMessageError(f"{what}: {e}") from None
    except (ValueError, msgpack.UnpackException) as e:
        raise MalformedMessageError(f"{what} is not valid msgpack: {e}") from None


def _map(obj: Any, keys: set[str], what: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise MalformedMessageError(f"{what} is a {type(obj).__name__}, want a map")
    if set(obj) != keys:
        raise MalformedMessageError(f"{what} has keys {sorted(obj)}, want {sorted(keys)}")
    return obj


def _int(obj: Any, what: str, low: int = 0) -> int:
    if type(obj) is not int:
        raise MalformedMessageError(f"{what} is a {type(obj).__name__}, want an integer")
    if not low <= obj <= MAX_INT:
        raise MalformedMessageError(f"{what} {obj} is out of range {low}..2^63-1")
    return obj


def _bin(obj: Any, what: str, size: int | None = None, limit: int = MAX_MESSAGE_BYTES) -> bytes:
    if type(obj) is not bytes:
        raise MalformedMessageError(f"{what} is a {type(obj).__name__}, want bin")
    if size is not None and len(obj) != size:
        raise MalformedMessageError(f"{what} is {len(obj)} bytes, want {size}")
    if len(obj) > limit:
        raise OversizedMessageError(f"{what} is {len(obj)} bytes, over {limit}")
    return obj


def _list(obj: Any, what: str, limit: int, low: int = 0) -> list[Any]:
    if type(obj) is not list:
        raise MalformedMessageError(f"{what} is a {type(obj).__name__}, want an array")
    if len(obj) > limit:
        raise OversizedMessageError(f"{what} has {len(obj)} items, over {limit}")
    if len(obj) < low:
        raise MalformedMessageError(f"{what} has {len(obj)} items, want at least {low}")
    return obj


def _name(obj: Any, what: str) -> str:
    if type(obj) is not str:
        raise MalformedMessageError(f"{what} is a {type(obj).__name__}, want a string")
    if not is_valid_key_name(obj) or len(obj.encode("utf-8")) > MAX_NAME_BYTES:
        raise MalformedMessageError(f"{what} {obj!r} is not a valid witness name")
    return obj


def _ascending(hashes: list[bytes], what: str) -> None:
    if any(a >= b for a, b in itertools.pairwise(hashes)):
        raise MalformedMessageError(f"{what} are not strictly ascending by origin hash")


def _digest(f: dict[str, Any]) -> Digest:
    limit = MAX_LOGS * DIGEST_ENTRY_SIZE
    blob = _bin(f["logs"], "digest logs", limit=limit)
    if len(blob) % DIGEST_ENTRY_SIZE:
        raise MalformedMessageError(
            f"digest is {len(blob)} bytes, not a multiple of {DIGEST_ENTRY_SIZE}"
        )
    entries = []
    for off in range(0, len(blob), DIGEST_ENTRY_SIZE):
        rec = blob[off : off + DIGEST_ENTRY_SIZE]
        size = int.from_bytes(rec[32:40], "big")
        root, tag = rec[40:72], rec[72:]
        i = off // DIGEST_ENTRY_SIZE
        if size > MAX_INT:
            raise MalformedMessageError(f"digest entry {i}: size exceeds 2^63-1")
        if size == 0 and any(root + tag):
            raise MalformedMessageError(f"digest entry {i}: size 0 needs a zero root and tag")
        entries.append(DigestEntry(rec[:32], size, root, tag))
    _ascending([e.origin_hash for e in entries], "digest entries")
    return Digest(tuple(entries))


def _request(f: dict[str, Any]) -> CheckpointRequest:
    wants = []
    for i, item in enumerate(_list(f["logs"], "request logs", MAX_LOGS)):
        pair = _list(item, f"request entry {i}", 2, 2)
        wants.append(
            Want(
                _bin(pair[0], f"request entry {i} origin hash", HASH_SIZE),
                _int(pair[1], f"request entry {i} size"),
            )
        )
    _ascending([w.origin_hash for w in wants], "request entries")
    return CheckpointRequest(tuple(wants))


def _checkpoints(f: dict[str, Any]) -> Checkpoints:
    notes = _list(f["notes"], "checkpoints", MAX_NOTES, 1)
    return Checkpoints(
        tuple(_bin(n, f"checkpoint {i}", limit=MAX_NOTE_BYTES) for i, n in enumerate(notes))
    )


def _proof(f: dict[str, Any]) -> Proof:
    old, new = _int(f["old"], "proof old size", 1), _int(f["new"], "proof new size", 1)
    if old >= new:
        raise MalformedMessageError(f"proof from size {old} to size {new}: want old < new")
    hashes = _list(f["hashes"], "proof hashes", MAX_PROOF_HASHES)
    return Proof(
        _bin(f["origin"], "proof origin hash", HASH_SIZE),
        old,
        new,
        tuple(_bin(h, f"proof hash {i}", HASH_SIZE) for i, h in enumerate(hashes)),
    )


def _evidence(f: dict[str, Any]) -> Evidence:
    return Evidence(_bin(f["file"], "evidence file", limit=MAX_EVIDENCE_BYTES))


_PAYLOADS: dict[str, tuple[set[str], Callable[[dict[str, Any]], Payload]]] = {
    Digest.TYPE: ({"logs"}, _digest),
    CheckpointRequest.TYPE: ({"logs"}, _request),
    Checkpoints.TYPE: ({"notes"}, _checkpoints),
    Proof.TYPE: ({"origin", "old", "new", "hashes"}, _proof),
    Evidence.TYPE: ({"file"}, _evidence),
}


def _payload(obj: Any, i: int) -> Payload:
    item = _list(obj, f"payload {i}", 2, 2)
    kind = item[0]
    if type(kind) is not str or kind not in _PAYLOADS:
        raise MalformedMessageError(f"payload {i} has unknown type {kind!r}")
    keys, decode = _PAYLOADS[kind]
    return decode(_map(item[1], keys, f"payload {i} ({kind})"))


def _decode_body(body: bytes) -> Message:
    b = _map(
        _unpack(body, "message body"),
        {"v", "from", "to", "seq", "time", "payloads"},
        "message body",
    )
    if type(b["v"]) is not int or b["v"] != VERSION:
        raise MalformedMessageError(f"message version {b['v']!r} is not {VERSION}")
    payloads = _list(b["payloads"], "payloads", MAX_PAYLOADS, 1)
    return Message(
        sender=_name(b["from"], "sender"),
        recipient=_name(b["to"], "recipient"),
        seq=_int(b["seq"], "sequence number", 1),
        time=_int(b["time"], "time"),
        payloads=tuple(_payload(p, i) for i, p in enumerate(payloads)),
    )


def decode_message(data: bytes) -> SignedMessage:
    """Decode wire bytes without checking the signature; raise MalformedMessageError."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise OversizedMessageError(f"message is {len(data)} bytes, over {MAX_MESSAGE_BYTES}")
    outer = _list(_unpack(data, "message"), "message", 2, 2)
    body = _bin(outer[0], "message body")
    signature = _bin(outer[1], "signature", SIGNATURE_SIZE)
    return SignedMessage(_decode_body(body), body, signature)


def verify_message(signed: SignedMessage, network: Network) -> Member:
    """The sender of a decoded message, after checking its signature."""
    sender = network.get(signed.message.sender)
    if sender is None:
        raise UnknownSenderError(f"sender {signed.message.sender!r} is not in the network file")
    key = ed25519.Ed25519PublicKey.from_public_bytes(sender.public)
    try:
        key.verify(signed.signature, DOMAIN + signed.body)
    except InvalidSignature:
        raise BadSignatureError(
            f"signature on message {signed.message.seq} from {sender.name} does not verify"
        ) from None
    return sender


class ReplayGuard:
    """The highest sequence number accepted from each sender (persist `snapshot()`)."""

    def __init__(self, seen: Mapping[str, int] | None = None) -> None:
        self._seen = dict(seen or {})

    def last(self, sender: str) -> int:
        """The highest sequence number accepted from `sender` (0 if none)."""
        return self._seen.get(sender, 0)

    def accept(self, sender: str, seq: int) -> None:
        """Record `seq` from `sender`; raise ReplayError if it is not new."""
        last = self.last(sender)
        if seq <= last:
            raise ReplayError(
                f"message {seq} from {sender} is a replay: already accepted up to {last}"
            )
        self._seen[sender] = seq

    def snapshot(self) -> dict[str, int]:
        """A copy of the state, for persisting and restoring."""
        return dict(self._seen)


def open_message(
    data: bytes,
    *,
    me: str,
    network: Network,
    guard: ReplayGuard,
    now: float,
    max_skew: int = MAX_CLOCK_SKEW,
) -> Message:
    """Decode, authenticate and de-duplicate one received message.

    Raises MalformedMessageError, UnknownSenderError, BadSignatureError or
    ReplayError; in every such case `guard` is unchanged.
    """
    signed = decode_message(data)
    sender = verify_message(signed, network)
    msg = signed.message
    if msg.recipient != me:
        raise ReplayError(f"message {msg.seq} from {sender.name} is addressed to {msg.recipient}")
    if abs(msg.time - now) > max_skew:
        raise ReplayError(
            f"message {msg.seq} from {sender.name} has time {msg.time}, more than "
            f"{max_skew} s from this witness's clock ({int(now)})"
        )
    guard.accept(sender.name, msg.seq)
    return msg
