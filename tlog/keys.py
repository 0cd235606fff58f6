"""Verifier keys (vkeys), private keys and the log signature algorithms.

A vkey is `<name>+<hex key ID>+base64(<type byte> || <public key>)`. The key
ID rule depends on the type:

- 0x01 Ed25519 and 0x04/0x06 cosignatures: SHA-256(name || 0x0A || type || key)[:4]
- 0x02 ECDSA (transparency-dev): SHA-256(DER SPKI)[:4]
- 0x05 RFC 6962 tree heads: SHA-256(name || 0x0A || 0x05 || SHA-256(DER SPKI))[:4]
- 0xff + "witnessnet/ccf-cose-root/v1" CCF COSE root signatures (docs/ccf.md):
  SHA-256(name || 0x0A || 0xff || identifier || DER SPKI)[:4]
- 0xff + "witnessnet/cose-rfc9162-root/v1" COSE receipt signatures over RFC 9162 trees
  (docs/scitt.md): SHA-256(name || 0x0A || 0xff || identifier || len(kid) || kid || DER SPKI)[:4]

A private key is the Go note format `PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 || seed)`.
Cosignature verifiers (types 0x04, 0x06) live in tlog.cosignature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from tlog.checkpoint import Checkpoint, parse_checkpoint
from tlog.errors import CheckpointError, MalformedKeyError, UnsupportedAlgorithmError
from tlog.merkle import CCF, RFC6962, HashRule
from tlog.note import Verifier, is_valid_key_name

ALG_ED25519 = 0x01
ALG_ECDSA = 0x02
ALG_COSIGNATURE_V1 = 0x04
ALG_RFC6962_STH = 0x05
ALG_MLDSA44_COSIGNATURE = 0x06
ALG_EXTENDED = 0xFF
CCF_COSE_ROOT_ID = b"witnessnet/ccf-cose-root/v1"
"""After 0xff: the witnessnet signature type of a CCF service's COSE root signature."""
COSE_RFC9162_ROOT_ID = b"witnessnet/cose-rfc9162-root/v1"
"""After 0xff: the witnessnet signature type of a COSE receipt's signature over an RFC 9162 root."""

_HEX8 = re.compile(r"[0-9a-f]{8}")


def key_id(name: str, alg: int, public: bytes) -> int:
    """The recommended key ID: SHA-256(name || "\\n" || type || public)[:4] as uint32."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public).digest()
    return int.from_bytes(digest[:4], "big")


def encode_vkey(name: str, kid: int, alg: int, public: bytes) -> str:
    """Format a vkey string."""
    blob = base64.b64encode(bytes([alg]) + public).decode("ascii")
    return f"{name}+{kid:08x}+{blob}"


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """The three fields of a vkey or private key string, decoded but not yet interpreted."""

    name: str
    key_id: int
    alg: int
    material: bytes


def split_key(s: str, what: str) -> ParsedKey:
    """Split `name+hex8+base64(type||key)`; validate the name and encodings."""
    # Names cannot contain '+', but base64 can: split from the left.
    parts = s.split("+", 2)
    if len(parts) != 3:
        raise MalformedKeyError(f"{what} {s!r}: want <name>+<hex key ID>+<base64 key>")
    name, hex8, b64 = parts
    if not is_valid_key_name(name):
        raise MalformedKeyError(f"{what}: invalid key name {name!r}")
    if not _HEX8.fullmatch(hex8):
        raise MalformedKeyError(f"{what} for {name}: key ID {hex8!r} is not 8 lowercase hex digits")
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedKeyError(f"{what} for {name}: key is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != b64:
        raise MalformedKeyError(f"{what} for {name}: key is not canonical base64")
    if len(raw) < 2:
        raise MalformedKeyError(f"{what} for {name}: key is too short")
    return ParsedKey(name, int(hex8, 16), raw[0], raw[1:])


def _check_id(p: ParsedKey, want: int, what: str) -> None:
    if p.key_id != want:
        raise MalformedKeyError(
            f"{what} for {p.name}: key ID {p.key_id:08x} does not match the key ({want:08x})"
        )


@dataclass(frozen=True)
class Ed25519Verifier:
    """Type 0x01: Ed25519 over the note text."""

    name: str
    public: bytes
    key_id: int = field(init=False)
    _key: ed25519.Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.public) != 32:
            raise MalformedKeyError(f"Ed25519 key for {self.name} is {len(self.public)} bytes")
        object.__setattr__(self, "key_id", key_id(self.name, ALG_ED25519, self.public))
        object.__setattr__(self, "_key", ed25519.Ed25519PublicKey.from_public_bytes(self.public))

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            self._key.verify(signature, text)
        except InvalidSignature:
            return False
        return True

    def vkey(self) -> str:
        return encode_vkey(self.name, self.key_id, ALG_ED25519, self.public)


def _load_spki(name: str, der: bytes) -> object:
    try:
        return serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise MalformedKeyError(f"key for {name}: not a DER SubjectPublicKeyInfo ({e})") from None


@dataclass(frozen=True)
class ECDSAVerifier:
    """Type 0x02: ECDSA P-256 with SHA-256 over the note text; key ID from the DER key."""

    name: str
    spki: bytes
    key_id: int = field(init=False)
    _key: ec.EllipticCurvePublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = _load_spki(self.name, self.spki)
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise UnsupportedAlgorithmError(f"type 0x02 key for {self.name} is not ECDSA P-256")
        object.__setattr__(self, "_key", key)
        kid = int.from_bytes(hashlib.sha256(self.spki).digest()[:4], "big")
        object.__setattr__(self, "key_id", kid)

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            self._key.verify(signature, text, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True

    def vkey(self) -> str:
        return encode_vkey(self.name, self.key_id, ALG_ECDSA, self.spki)


@dataclass(frozen=True)
class RFC6962Verifier:
    """Type 0x05: an RFC 6962 TreeHeadSignature (static-ct-api), ECDSA P-256 or RSA.

    The note signature is a uint64 timestamp (ms) then a TLS DigitallySigned
    over the TreeHeadSignature struct built from the checkpoint. The checkpoint
    origin must equal the key name and it may carry no extension lines, since
    the signature does not cover them.
    """

    name: str
    spki: bytes
    key_id: int = field(init=False)
    _key: object = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = _load_spki(self.name, self.spki)
        ok_ec = isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
        if not ok_ec and not isinstance(key, rsa.RSAPublicKey):
            raise UnsupportedAlgorithmError(f"type 0x05 key for {self.name}: need P-256 or RSA")
        object.__setattr__(self, "_key", key)
        log_id = hashlib.sha256(self.spki).digest()
        object.__setattr__(self, "key_id", key_id(self.name, ALG_RFC6962_STH, log_id))

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            cp = parse_checkpoint(text.decode("utf-8"))
        except (CheckpointError, UnicodeDecodeError):
            return False
        if cp.origin != self.name or cp.extensions or len(signature) < 12:
            return False
        timestamp = signature[:8]
        hash_alg, sig_alg, length = struct.unpack(">BBH", signature[8:12])
        sig = signature[12:]
        if hash_alg != 4 or len(sig) != length:
            return False
        tbs = b"\x00\x01" + timestamp + cp.size.to_bytes(8, "big") + cp.root
        try:
            if isinstance(self._key, ec.EllipticCurvePublicKey) and sig_alg == 3:
                self._key.verify(sig, tbs, ec.ECDSA(hashes.SHA256()))
            elif isinstance(self._key, rsa.RSAPublicKey) and sig_alg == 1:
                self._key.verify(sig, tbs, padding.PKCS1v15(), hashes.SHA256())
            else:
                return False
        except (InvalidSignature, ValueError):
            return False
        return True

    def vkey(self) -> str:
        return encode_vkey(self.name, self.key_id, ALG_RFC6962_STH, self.spki)


@dataclass(frozen=True)
class CcfCoseVerifier:
    """Type 0xff "witnessnet/ccf-cose-root/v1": a CCF service's COSE root signature.

    The vkey key material is 0xff || CCF_COSE_ROOT_ID || DER SPKI of the service key
    (ECDSA P-256, P-384 or P-521). The note signature (after the key ID) is
    uint16 big-endian length || COSE protected header bytes || COSE signature (r || s), as
    CCF wrote them into public:ccf.internal.cose_signatures. Verification rebuilds the
    Sig_structure ["Signature1", protected, b"", root] with the checkpoint root as the
    detached payload and checks that the header is CCF's: vds 2 (CCF_LEDGER_SHA256), a
    "ccf.v1" txid whose seqno equals the checkpoint size, a kid (when present) equal to the
    hex SHA-256 of the key's SPKI. The signature does not cover the origin or extension
    lines, so the origin must equal the key name and extension lines are refused.
    """

    name: str
    spki: bytes
    key_id: int = field(init=False)
    _key: ec.EllipticCurvePublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = _load_spki(self.name, self.spki)
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise UnsupportedAlgorithmError(f"CCF COSE key for {self.name} is not ECDSA")
        object.__setattr__(self, "_key", key)
        kid = key_id(self.name, ALG_EXTENDED, CCF_COSE_ROOT_ID + self.spki)
        object.__setattr__(self, "key_id", kid)

    def verify(self, text: bytes, signature: bytes) -> bool:
        from tlog.cose.errors import CoseError

        opened = _open_cose_root(text, signature, self.name)
        if opened is None:
            return False
        cp, sign1 = opened
        try:
            if not _ccf_header_ok(sign1.protected, cp.size, self.spki):
                return False
            sign1.verify(self._key, cp.root)
        except CoseError:
            return False
        return True

    def vkey(self) -> str:
        return encode_vkey(self.name, self.key_id, ALG_EXTENDED, CCF_COSE_ROOT_ID + self.spki)


@dataclass(frozen=True)
class CoseRfc9162Verifier:
    """Type 0xff "witnessnet/cose-rfc9162-root/v1": a COSE receipt's root signature (vds 1).

    The signature of an RFC9162_SHA256 transparency service (a SCITT service) over its
    Merkle root. The vkey key material is 0xff || COSE_RFC9162_ROOT_ID || uint8 len(kid) ||
    kid || DER SPKI (ECDSA P-256/384/521, RSA or Ed25519). The note signature bytes are those
    of CcfCoseVerifier: uint16 big-endian length || COSE protected header bytes || COSE
    signature. Verification rebuilds Sig_structure ["Signature1", protected, b"", root] with
    the checkpoint root as the detached payload; the header must say vds 1 (RFC9162_SHA256)
    and carry exactly this kid. The size is not in the header, and needs no check: RFC 6962
    leaf and node hashes are domain separated, so the signed root fixes its tree's size. The
    signature does not cover the origin or extension lines, so the origin must equal the key
    name and extension lines are refused.
    """

    name: str
    kid: bytes
    spki: bytes
    key_id: int = field(init=False)
    _key: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 < len(self.kid) < 256:
            raise MalformedKeyError(
                f"COSE kid for {self.name} is {len(self.kid)} bytes, want 1..255"
            )
        key = _load_spki(self.name, self.spki)
        if not isinstance(
            key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
        ):
            raise UnsupportedAlgorithmError(
                f"COSE RFC 9162 root key for {self.name}: need ECDSA, RSA or Ed25519"
            )
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "key_id", key_id(self.name, ALG_EXTENDED, self._material()))

    def _material(self) -> bytes:
        return COSE_RFC9162_ROOT_ID + bytes([len(self.kid)]) + self.kid + self.spki

    def verify(self, text: bytes, signature: bytes) -> bool:
        from tlog.cose.errors import CoseError

        opened = _open_cose_root(text, signature, self.name)
        if opened is None:
            return False
        cp, sign1 = opened
        header = sign1.protected
        if header.get(395) != 1 or header.get(4) != self.kid:
            return False
        try:
            sign1.verify(self._key, cp.root)
        except CoseError:
            return False
        return True

    def vkey(self) -> str:
        return encode_vkey(self.name, self.key_id, ALG_EXTENDED, self._material())


def _open_cose_root(text: bytes, signature: bytes, name: str) -> tuple[Checkpoint, Any] | None:
    """(checkpoint, COSE_Sign1) of a COSE root note signature, or None if malformed.

    The origin must be the key name and there may be no extension lines: the
    signature covers neither.
    """
    from tlog.cose.errors import CoseError
    from tlog.cose.sign1 import sign1_from_item

    try:
        cp = parse_checkpoint(text.decode("utf-8"))
    except (CheckpointError, UnicodeDecodeError):
        return None
    if cp.origin != name or cp.extensions or len(signature) < 2:
        return None
    n = int.from_bytes(signature[:2], "big")
    protected, sig = signature[2 : 2 + n], signature[2 + n :]
    if n == 0 or len(protected) != n:
        return None
    try:
        return cp, sign1_from_item([protected, {}, None, sig], "COSE root signature", tagged=True)
    except CoseError:
        return None


def _parse_rfc9162_material(name: str, material: bytes) -> CoseRfc9162Verifier:
    rest = material[len(COSE_RFC9162_ROOT_ID) :]
    if not rest or len(rest) < 1 + rest[0]:
        raise MalformedKeyError(f"vkey for {name}: COSE RFC 9162 root key has no complete kid")
    return CoseRfc9162Verifier(name, rest[1 : 1 + rest[0]], rest[1 + rest[0] :])


def _ccf_header_ok(header: Mapping[Any, Any], size: int, spki: bytes) -> bool:
    """CCF's root signature header: vds 2, txid seqno == size, kid = hex SHA-256(SPKI)."""
    ccf = header.get("ccf.v1")
    txid = ccf.get("txid") if isinstance(ccf, Mapping) else None
    if header.get(395) != 2 or not isinstance(txid, str):
        return False
    view, dot, seqno = txid.partition(".")
    if not dot or not (view.isascii() and view.isdigit()) or str(size) != seqno:
        return False
    kid = header.get(4)
    return kid is None or kid == hashlib.sha256(spki).hexdigest().encode("ascii")


def tree_hash_rule(verifiers: Iterable[Verifier]) -> HashRule:
    """The Merkle hash rule a log's keys imply: CCF for CCF COSE root keys, else RFC 6962.

    (CoseRfc9162Verifier keys, like every other log key type, imply RFC 6962.)

    A CCF service's heads are only verifiable with a CcfCoseVerifier, and its consistency
    proofs only under the CCF rule, so the key alone tells a witness, a gossip peer or an
    offline evidence checker which rule to verify proofs with. Mixing kinds is refused.
    """
    kinds = {isinstance(v, CcfCoseVerifier) for v in verifiers}
    if len(kinds) > 1:
        raise UnsupportedAlgorithmError(
            "a log's keys mix CCF COSE root keys with others: no single Merkle hash rule"
        )
    return CCF if kinds == {True} else RFC6962


def ccf_cose_signature(protected: bytes, signature: bytes) -> bytes:
    """The note signature bytes of CcfCoseVerifier (without the key ID)."""
    if not 0 < len(protected) < 1 << 16:
        raise MalformedKeyError(f"COSE protected header of {len(protected)} bytes")
    return len(protected).to_bytes(2, "big") + protected + signature


def parse_vkey(vkey: str) -> Verifier:
    """Parse a vkey of any supported type into a verifier; check that its key ID matches."""
    from tlog.cosignature import cosigner_verifier_from_parsed

    p = split_key(vkey.strip(), "vkey")
    if p.alg == ALG_ED25519:
        v: Verifier = Ed25519Verifier(p.name, p.material)
    elif p.alg == ALG_ECDSA:
        v = ECDSAVerifier(p.name, p.material)
    elif p.alg == ALG_RFC6962_STH:
        v = RFC6962Verifier(p.name, p.material)
    elif p.alg in (ALG_COSIGNATURE_V1, ALG_MLDSA44_COSIGNATURE):
        v = cosigner_verifier_from_parsed(p)
    elif p.alg == ALG_EXTENDED and p.material.startswith(CCF_COSE_ROOT_ID):
        v = CcfCoseVerifier(p.name, p.material[len(CCF_COSE_ROOT_ID) :])
    elif p.alg == ALG_EXTENDED and p.material.startswith(COSE_RFC9162_ROOT_ID):
        v = _parse_rfc9162_material(p.name, p.material)
    else:
        raise UnsupportedAlgorithmError(f"vkey for {p.name}: unknown signature type 0x{p.alg:02x}")
    _check_id(p, v.key_id, "vkey")
    return v


@runtime_checkable
class Ed25519NoteSigner(Protocol):
    """An Ed25519 key that signs notes (type 0x01) and raw messages under a note key name.

    Ed25519Signer holds the seed in memory; witness.agent.AgentEd25519Key asks an
    ssh-agent. Both satisfy tlog.note.Signer. `blocking` keys wait on I/O to sign: an
    event loop calls them from a worker thread (trio.to_thread.run_sync).
    """

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    @property
    def public(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        ...

    @property
    def blocking(self) -> bool: ...

    def sign(self, text: bytes) -> bytes:
        """The signature (without the key ID) over the note `text`."""
        ...

    def sign_raw(self, message: bytes) -> bytes:
        """Ed25519 over arbitrary bytes (cosignatures and gossip messages)."""
        ...

    def verifier(self) -> Ed25519Verifier: ...

    def vkey(self) -> str: ...


@dataclass(frozen=True)
class Ed25519Signer:
    """Type 0x01 signer from a 32-byte Ed25519 seed."""

    blocking: ClassVar[bool] = False

    name: str
    seed: bytes = field(repr=False)
    key_id: int = field(init=False)
    public: bytes = field(init=False)
    _key: ed25519.Ed25519PrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise MalformedKeyError(f"invalid key name {self.name!r}")
        if len(self.seed) != 32:
            raise MalformedKeyError(f"Ed25519 seed for {self.name} is {len(self.seed)} bytes")
        key = ed25519.Ed25519PrivateKey.from_private_bytes(self.seed)
        public = key.public_key().public_bytes_raw()
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "public", public)
        object.__setattr__(self, "key_id", key_id(self.name, ALG_ED25519, public))

    def sign(self, text: bytes) -> bytes:
        return self._key.sign(text)

    def sign_raw(self, message: bytes) -> bytes:
        """Ed25519 over arbitrary bytes (cosignatures and gossip messages use this key too)."""
        return self._key.sign(message)

    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier(self.name, self.public)

    def vkey(self) -> str:
        return encode_vkey(self.name, self.key_id, ALG_ED25519, self.public)

    def private_key_string(self) -> str:
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+" + base64.b64encode(
            bytes([ALG_ED25519]) + self.seed
        ).decode("ascii")


def generate_signer(name: str) -> Ed25519Signer:
    """A new random Ed25519 key under `name`."""
    seed = ed25519.Ed25519PrivateKey.generate().private_bytes_raw()
    return Ed25519Signer(name, seed)


def parse_private_key(s: str) -> Ed25519Signer:
    """Parse `PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 || seed)`."""
    s = s.strip()
    if not s.startswith("PRIVATE+KEY+"):
        raise MalformedKeyError("private key must start with 'PRIVATE+KEY+'")
    p = split_key(s[len("PRIVATE+KEY+") :], "private key")
    if p.alg != ALG_ED25519:
        raise UnsupportedAlgorithmError(f"private key for {p.name}: type 0x{p.alg:02x}")
    signer = Ed25519Signer(p.name, p.material)
    _check_id(p, signer.key_id, "private key")
    return signer
