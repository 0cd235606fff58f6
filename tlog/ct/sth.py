"""RFC 6962 signed tree heads: get-sth JSON, TreeHeadSignature, and the checkpoint form.

A tree head signature is a TLS ``DigitallySigned`` (hash 4 = SHA-256, then
signature 3 = ECDSA or 1 = RSA PKCS#1 v1.5, then a uint16-length signature)
over the ``TreeHeadSignature`` struct: version 0, signature type 1
(tree_hash), uint64 timestamp in ms, uint64 tree size, 32-byte root.

static-ct-api carries the same signature in a checkpoint as a type 0x05 note
signature, ``uint64 timestamp || DigitallySigned``, under a key whose name is
the checkpoint origin. So an RFC 6962 head converts to a checkpoint without
the private key, and the witness verifies either with one RFC6962Verifier.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tlog.checkpoint import Checkpoint, SignedCheckpoint, open_checkpoint, parse_checkpoint
from tlog.ct.errors import CTFormatError
from tlog.ct.tls import Reader, vector
from tlog.errors import CheckpointError, MalformedKeyError
from tlog.keys import ALG_RFC6962_STH, RFC6962Verifier, key_id
from tlog.merkle import HASH_SIZE
from tlog.note import Note, Signature, is_valid_key_name

HASH_SHA256 = 4
SIG_RSA = 1
SIG_ECDSA = 3
TREE_HASH = 1
MAX_TREE_SIZE = (1 << 63) - 1
MAX_UINT64 = (1 << 64) - 1
STH_FIELDS = ("tree_size", "timestamp", "sha256_root_hash", "tree_head_signature")


@dataclass(frozen=True, slots=True)
class DigitallySigned:
    """A TLS DigitallySigned: hash and signature algorithm bytes, then the signature."""

    hash_alg: int
    sig_alg: int
    signature: bytes

    def encode(self) -> bytes:
        return bytes([self.hash_alg, self.sig_alg]) + vector(self.signature, 2, "signature")


def parse_digitally_signed(data: bytes, what: str = "DigitallySigned") -> DigitallySigned:
    """Parse a DigitallySigned that must fill data exactly; only SHA-256 with ECDSA or RSA."""
    r = Reader(data, what)
    hash_alg, sig_alg = r.uint(1, "hash algorithm"), r.uint(1, "signature algorithm")
    if hash_alg != HASH_SHA256:
        raise CTFormatError(f"{what}: hash algorithm {hash_alg}, want {HASH_SHA256} (SHA-256)")
    if sig_alg not in (SIG_ECDSA, SIG_RSA):
        raise CTFormatError(f"{what}: signature algorithm {sig_alg}, want 3 (ECDSA) or 1 (RSA)")
    sig = r.vector(2, "signature", low=1)
    r.done()
    return DigitallySigned(hash_alg, sig_alg, sig)


def tree_head_input(timestamp: int, tree_size: int, root: bytes) -> bytes:
    """The TreeHeadSignature struct a tree head signature covers."""
    if len(root) != HASH_SIZE:
        raise CTFormatError(f"root hash is {len(root)} bytes, want {HASH_SIZE}")
    if not 0 <= timestamp <= MAX_UINT64 or not 0 <= tree_size <= MAX_TREE_SIZE:
        raise CTFormatError(f"timestamp {timestamp} or tree size {tree_size} out of range")
    return (
        bytes([0, TREE_HASH]) + timestamp.to_bytes(8, "big") + tree_size.to_bytes(8, "big") + root
    )


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """An RFC 6962 STH as get-sth serves it (its signature not yet verified)."""

    tree_size: int
    timestamp: int
    root_hash: bytes
    signature: DigitallySigned

    def to_json(self) -> bytes:
        """The get-sth response body."""
        doc = {
            "tree_size": self.tree_size,
            "timestamp": self.timestamp,
            "sha256_root_hash": base64.b64encode(self.root_hash).decode("ascii"),
            "tree_head_signature": base64.b64encode(self.signature.encode()).decode("ascii"),
        }
        return json.dumps(doc).encode("ascii")

    def note_signature(self, origin: str, log_id: bytes) -> Signature:
        """The type 0x05 note signature carrying this head, for a key named origin."""
        blob = self.timestamp.to_bytes(8, "big") + self.signature.encode()
        return Signature(origin, key_id(origin, ALG_RFC6962_STH, log_id), blob)


def strict_json(data: bytes | str, what: str) -> dict[str, Any]:
    """A JSON object with no duplicate keys; CTFormatError otherwise."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                raise CTFormatError(f"{what}: duplicate key {k!r}")
            out[k] = v
        return out

    try:
        doc = json.loads(data, object_pairs_hook=pairs)
    except (ValueError, RecursionError) as e:
        if isinstance(e, CTFormatError):
            raise
        raise CTFormatError(f"{what}: not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise CTFormatError(f"{what}: want a JSON object, got {type(doc).__name__}")
    return doc


def json_int(doc: dict[str, Any], key: str, high: int, what: str) -> int:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise CTFormatError(f"{what}: {key} must be an integer in 0..{high}, got {value!r}")
    return value


def json_b64(value: Any, field: str, what: str) -> bytes:
    """A canonical standard-base64 JSON string."""
    if not isinstance(value, str):
        raise CTFormatError(f"{what}: {field} must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CTFormatError(f"{what}: {field} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != value:
        raise CTFormatError(f"{what}: {field} is not canonical base64")
    return raw


def parse_sth_json(data: bytes | str) -> SignedTreeHead:
    """Parse a get-sth response: exactly the four RFC 6962 fields, each well-formed."""
    what = "get-sth response"
    doc = strict_json(data, what)
    extra = sorted(set(doc) - set(STH_FIELDS))
    missing = [k for k in STH_FIELDS if k not in doc]
    if extra or missing:
        raise CTFormatError(f"{what}: unknown keys {extra}, missing keys {missing}")
    root = json_b64(doc["sha256_root_hash"], "sha256_root_hash", what)
    if len(root) != HASH_SIZE:
        raise CTFormatError(f"{what}: sha256_root_hash is {len(root)} bytes, want {HASH_SIZE}")
    sig = json_b64(doc["tree_head_signature"], "tree_head_signature", what)
    return SignedTreeHead(
        tree_size=json_int(doc, "tree_size", MAX_TREE_SIZE, what),
        timestamp=json_int(doc, "timestamp", MAX_UINT64, what),
        root_hash=root,
        signature=parse_digitally_signed(sig, f"{what}: tree_head_signature"),
    )


def sth_to_checkpoint(sth: SignedTreeHead, verifier: RFC6962Verifier) -> SignedCheckpoint:
    """The head as a checkpoint note whose origin is the verifier's name, verified by it.

    Raises InvalidSignatureError when the STH signature does not verify.
    """
    body = Checkpoint(verifier.name, sth.tree_size, sth.root_hash).body()
    log_id = log_id_of(verifier.spki)
    note = Note(body, (sth.note_signature(verifier.name, log_id),))
    return open_checkpoint(note.to_bytes(), [verifier])


def sth_from_note_signature(text: str, signature: bytes) -> SignedTreeHead:
    """The RFC 6962 head a type 0x05 signature (without key ID) over checkpoint text carries."""
    try:
        cp = parse_checkpoint(text)
    except CheckpointError as e:
        raise CTFormatError(f"checkpoint: {e}") from None
    r = Reader(signature, "RFC6962NoteSignature")
    timestamp = r.uint(8, "timestamp")
    ds = parse_digitally_signed(r.rest(), "RFC6962NoteSignature signature")
    return SignedTreeHead(cp.size, timestamp, cp.root, ds)


def log_id_of(spki: bytes) -> bytes:
    """The RFC 6962 LogID: SHA-256 of the log's DER SubjectPublicKeyInfo."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(spki)
    return digest.finalize()


@dataclass(frozen=True)
class CTLogSigner:
    """Signs tree heads as an RFC 6962 log (ECDSA P-256), and checkpoints as type 0x05.

    ``name`` is the checkpoint origin (static-ct-api: the submission prefix
    without scheme); ``clock`` gives the timestamp in ms (tests fix it).
    """

    name: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    clock: Callable[[], int] = field(default=lambda: int(time.time() * 1000), compare=False)
    spki: bytes = field(init=False)
    key_id: int = field(init=False)

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise MalformedKeyError(f"invalid key name {self.name!r}")
        if not isinstance(self.private_key, ec.EllipticCurvePrivateKey) or (
            self.private_key.curve.name != "secp256r1"
        ):
            raise MalformedKeyError(f"CT log key for {self.name} must be ECDSA P-256")
        spki = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        object.__setattr__(self, "spki", spki)
        object.__setattr__(self, "key_id", key_id(self.name, ALG_RFC6962_STH, log_id_of(spki)))

    def sign_tree_head(
        self, tree_size: int, root: bytes, timestamp: int | None = None
    ) -> SignedTreeHead:
        """A signed tree head over (timestamp, tree_size, root); timestamp defaults to now."""
        ts = self.clock() if timestamp is None else timestamp
        der = self.private_key.sign(tree_head_input(ts, tree_size, root), ec.ECDSA(hashes.SHA256()))
        return SignedTreeHead(tree_size, ts, root, DigitallySigned(HASH_SHA256, SIG_ECDSA, der))

    def sign(self, text: bytes) -> bytes:
        """A type 0x05 note signature over a checkpoint text (no extension lines allowed)."""
        try:
            cp = parse_checkpoint(text.decode("utf-8"))
        except (CheckpointError, UnicodeDecodeError) as e:
            raise CTFormatError(f"a type 0x05 signature needs a checkpoint text: {e}") from None
        if cp.origin != self.name or cp.extensions:
            raise CTFormatError(
                f"a type 0x05 signature by {self.name} covers only a checkpoint of that origin "
                "with no extension lines"
            )
        return (
            self.sign_tree_head(cp.size, cp.root)
            .note_signature(self.name, log_id_of(self.spki))
            .signature
        )

    def verifier(self) -> RFC6962Verifier:
        return RFC6962Verifier(self.name, self.spki)

    def vkey(self) -> str:
        return self.verifier().vkey()


def load_ct_signer(name: str, pem: bytes) -> CTLogSigner:
    """A CTLogSigner from a PEM (PKCS#8 or SEC1) ECDSA P-256 private key."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as e:
        raise MalformedKeyError(
            f"CT log key for {name}: not an unencrypted PEM key ({e})"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise MalformedKeyError(f"CT log key for {name} must be ECDSA P-256")
    return CTLogSigner(name, key)


def verify_sth(sth: SignedTreeHead, spki: bytes, name: str = "ct-log") -> None:
    """Check an STH's signature with a DER public key (ECDSA P-256 or RSA); TlogError if bad."""
    verifier = RFC6962Verifier(name, spki)
    sth_to_checkpoint(sth, verifier)
