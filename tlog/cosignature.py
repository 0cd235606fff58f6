"""Witness cosignatures, per C2SP tlog-cosignature.

A cosignature is a note signature on a checkpoint whose bytes are a uint64
big-endian POSIX timestamp followed by the signature proper:

- type 0x04, Ed25519 cosignature/v1: Ed25519 over
  `cosignature/v1\\ntime <timestamp>\\n` || the whole checkpoint body;
- type 0x06, ML-DSA-44 subtree/v1: ML-DSA-44 over the binary `cosigned_message`
  (label, cosigner name, timestamp, origin, start=0, end=size, root hash).

A witness vkey published as type 0x01 names the same Ed25519 key; as a
cosigner its key ID is recomputed with type byte 0x04.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from tlog.checkpoint import parse_checkpoint
from tlog.errors import CheckpointError, MalformedKeyError, UnsupportedAlgorithmError
from tlog.keys import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    ALG_MLDSA44_COSIGNATURE,
    Ed25519NoteSigner,
    ParsedKey,
    encode_vkey,
    key_id,
    split_key,
)
from tlog.note import Signature, Verifier

try:
    from cryptography.hazmat.primitives.asymmetric import mldsa
except ImportError:  # cryptography < 47 has no ML-DSA
    mldsa = None  # type: ignore[assignment]

MAX_TIMESTAMP = (1 << 63) - 1
MLDSA44_PUBLIC_KEY_SIZE = 1312
MLDSA44_SIGNATURE_SIZE = 2420
SUBTREE_LABEL = b"subtree/v1\n\x00"


def cosignature_v1_message(body: bytes, timestamp: int) -> bytes:
    """The Ed25519 cosignature/v1 signed message for a checkpoint body."""
    return b"cosignature/v1\ntime %d\n" % timestamp + body


def subtree_v1_message(cosigner: str, timestamp: int, origin: str, size: int, root: bytes) -> bytes:
    """The ML-DSA-44 `cosigned_message` for a whole checkpoint (start = 0)."""
    name, org = cosigner.encode("utf-8"), origin.encode("utf-8")
    if not 1 <= len(name) <= 255 or not 1 <= len(org) <= 255:
        raise CheckpointError("cosigner name and origin must be 1..255 bytes for subtree/v1")
    return (
        SUBTREE_LABEL
        + bytes([len(name)])
        + name
        + struct.pack(">Q", timestamp)
        + bytes([len(org)])
        + org
        + struct.pack(">QQ", 0, size)
        + root
    )


def cosignature_timestamp(sig: Signature) -> int:
    """The POSIX timestamp a cosignature carries (its first 8 bytes)."""
    return int.from_bytes(sig.signature[:8], "big")


@dataclass(frozen=True)
class CosignatureV1Verifier:
    """Type 0x04 verifier for one witness's Ed25519 key."""

    name: str
    public: bytes
    key_id: int = field(init=False)
    _key: ed25519.Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.public) != 32:
            raise MalformedKeyError(f"Ed25519 key for {self.name} is {len(self.public)} bytes")
        object.__setattr__(self, "key_id", key_id(self.name, ALG_COSIGNATURE_V1, self.public))
        object.__setattr__(self, "_key", ed25519.Ed25519PublicKey.from_public_bytes(self.public))

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != 72:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        try:
            self._key.verify(signature[8:], cosignature_v1_message(text, timestamp))
        except InvalidSignature:
            return False
        return True

    def vkey(self) -> str:
        return encode_vkey(self.name, self.key_id, ALG_COSIGNATURE_V1, self.public)


def _require_mldsa() -> None:
    if mldsa is None:
        raise UnsupportedAlgorithmError(
            "ML-DSA-44 cosignatures need cryptography >= 47 with OpenSSL ML-DSA support"
        )


@dataclass(frozen=True)
class MLDSA44CosignatureVerifier:
    """Type 0x06 verifier: ML-DSA-44 subtree/v1 cosignatures on checkpoints."""

    name: str
    public: bytes
    key_id: int = field(init=False)
    _key: object = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _require_mldsa()
        if len(self.public) != MLDSA44_PUBLIC_KEY_SIZE:
            raise MalformedKeyError(f"ML-DSA-44 key for {self.name} is {len(self.public)} bytes")
        object.__setattr__(self, "key_id", key_id(self.name, ALG_MLDSA44_COSIGNATURE, self.public))
        object.__setattr__(self, "_key", mldsa.MLDSA44PublicKey.from_public_bytes(self.public))

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != 8 + MLDSA44_SIGNATURE_SIZE:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        try:
            cp = parse_checkpoint(text.decode("utf-8"))
            msg = subtree_v1_message(self.name, timestamp, cp.origin, cp.size, cp.root)
        except (CheckpointError, UnicodeDecodeError):
            return False
        if timestamp > MAX_TIMESTAMP:
            return False
        try:
            self._key.verify(signature[8:], msg)  # type: ignore[attr-defined]
        except InvalidSignature:
            return False
        return True

    def vkey(self) -> str:
        return encode_vkey(self.name, self.key_id, ALG_MLDSA44_COSIGNATURE, self.public)


def cosigner_verifier_from_parsed(p: ParsedKey) -> Verifier:
    """A cosignature verifier for a parsed key of type 0x01, 0x04 or 0x06."""
    if p.alg in (ALG_ED25519, ALG_COSIGNATURE_V1):
        return CosignatureV1Verifier(p.name, p.material)
    if p.alg == ALG_MLDSA44_COSIGNATURE:
        return MLDSA44CosignatureVerifier(p.name, p.material)
    raise UnsupportedAlgorithmError(f"key for {p.name}: type 0x{p.alg:02x} is not a cosigner type")


def parse_cosigner_vkey(vkey: str) -> Verifier:
    """A witness vkey as a cosignature verifier.

    Type 0x04 and 0x06 vkeys must carry their own key ID; a type 0x01 vkey is
    checked against its 0x01 key ID and then used as a 0x04 cosigner, whose
    key ID is recomputed.
    """
    p = split_key(vkey.strip(), "witness vkey")
    v = cosigner_verifier_from_parsed(p)
    want = key_id(p.name, ALG_ED25519, p.material) if p.alg == ALG_ED25519 else v.key_id
    if p.key_id != want:
        raise MalformedKeyError(
            f"witness vkey for {p.name}: key ID {p.key_id:08x} does not match the key ({want:08x})"
        )
    return v


@dataclass(frozen=True)
class CosignatureV1Signer:
    """Type 0x04 signer: cosignature/v1 with a witness's Ed25519 key."""

    key: Ed25519NoteSigner
    clock: Callable[[], float] = time.time

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def key_id(self) -> int:
        return key_id(self.key.name, ALG_COSIGNATURE_V1, self.key.public)

    def sign(self, text: bytes) -> bytes:
        return self.sign_at(text, int(self.clock()))

    def sign_at(self, text: bytes, timestamp: int) -> bytes:
        """Cosign checkpoint body `text` with an explicit timestamp."""
        if not 0 <= timestamp <= MAX_TIMESTAMP:
            raise ValueError(f"timestamp {timestamp} out of range")
        sig = self.key.sign_raw(cosignature_v1_message(text, timestamp))
        return timestamp.to_bytes(8, "big") + sig

    def verifier(self) -> CosignatureV1Verifier:
        return CosignatureV1Verifier(self.key.name, self.key.public)

    def vkey(self) -> str:
        return self.verifier().vkey()


@dataclass(frozen=True)
class MLDSA44CosignatureSigner:
    """Type 0x06 signer from a 32-byte ML-DSA-44 seed."""

    name: str
    seed: bytes = field(repr=False)
    clock: Callable[[], float] = time.time
    public: bytes = field(init=False)
    key_id: int = field(init=False)
    _key: object = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _require_mldsa()
        key = mldsa.MLDSA44PrivateKey.from_seed_bytes(self.seed)
        public = key.public_key().public_bytes_raw()
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "public", public)
        object.__setattr__(self, "key_id", key_id(self.name, ALG_MLDSA44_COSIGNATURE, public))

    def sign(self, text: bytes) -> bytes:
        return self.sign_at(text, int(self.clock()))

    def sign_at(self, text: bytes, timestamp: int) -> bytes:
        if not 0 <= timestamp <= MAX_TIMESTAMP:
            raise ValueError(f"timestamp {timestamp} out of range")
        cp = parse_checkpoint(text.decode("utf-8"))
        msg = subtree_v1_message(self.name, timestamp, cp.origin, cp.size, cp.root)
        return timestamp.to_bytes(8, "big") + self._key.sign(msg)  # type: ignore[attr-defined]

    def verifier(self) -> MLDSA44CosignatureVerifier:
        return MLDSA44CosignatureVerifier(self.name, self.public)
