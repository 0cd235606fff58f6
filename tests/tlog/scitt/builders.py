"""Test-only signers: COSE_Sign1 objects, COSE receipts and transparent statements.

Real keys, real signatures: what the verifiers are tested against is built here
with `cryptography` directly, independently of tlog.cose's verification code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tlog.cose.keys import spki_der, spki_sha256_hex
from tlog.keys import CoseRfc9162Verifier
from tlog.merkle import CCF, RFC6962, MemoryTree, _inclusion_steps

ISSUER = "https://ts.example"
_HASH = {-7: hashes.SHA256, -35: hashes.SHA384, -36: hashes.SHA512, -37: hashes.SHA256,
         -38: hashes.SHA384, -39: hashes.SHA512, -257: hashes.SHA256}  # fmt: skip


@dataclass(frozen=True)
class Signer:
    alg: int
    key: Any

    @property
    def public(self) -> Any:
        return self.key.public_key()

    @property
    def kid(self) -> bytes:
        return spki_sha256_hex(self.public).encode()

    def sign(self, message: bytes) -> bytes:
        k = self.key
        if isinstance(k, ed25519.Ed25519PrivateKey):
            return k.sign(message)
        h = _HASH[self.alg]()
        if isinstance(k, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(k.sign(message, ec.ECDSA(h)))
            n = (k.curve.key_size + 7) // 8
            return r.to_bytes(n, "big") + s.to_bytes(n, "big")
        if self.alg in (-37, -38, -39):
            return k.sign(message, padding.PSS(padding.MGF1(h), h.digest_size), h)
        return k.sign(message, padding.PKCS1v15(), h)


def signer(alg: int = -7) -> Signer:
    if alg == -8:
        return Signer(alg, ed25519.Ed25519PrivateKey.generate())
    curves = {-7: ec.SECP256R1, -35: ec.SECP384R1, -36: ec.SECP521R1}
    if alg in curves:
        return Signer(alg, ec.generate_private_key(curves[alg]()))
    return Signer(alg, rsa.generate_private_key(65537, 2048))


def sign1(
    s: Signer,
    protected: dict[Any, Any],
    unprotected: dict[Any, Any],
    payload: bytes | None,
    *,
    detached: bytes | None = None,
) -> bytes:
    """A tagged COSE_Sign1; `detached` is signed in place of a nil payload."""
    prot = cbor2.dumps({1: s.alg, **protected})
    body = payload if payload is not None else detached
    assert body is not None
    sig = s.sign(cbor2.dumps(["Signature1", prot, b"", body]))
    return cbor2.dumps(cbor2.CBORTag(18, [prot, unprotected, payload, sig]))


def receipt_header(s: Signer, vds: int, **extra: Any) -> dict[Any, Any]:
    return {4: s.kid, 395: vds, 15: {1: ISSUER}, **extra}


def rfc9162_inclusion_receipt(s: Signer, tree: MemoryTree, index: int, size: int) -> bytes:
    proof = cbor2.dumps([size, index, tree.inclusion_proof(index, size)])
    return sign1(s, receipt_header(s, 1), {396: {-1: [proof]}}, None, detached=tree.root(size))


def rfc9162_consistency_receipt(s: Signer, tree: MemoryTree, old: int, new: int) -> bytes:
    proof = cbor2.dumps([old, new, tree.consistency_proof(old, new)])
    return sign1(s, receipt_header(s, 1), {396: {-2: [proof]}}, None, detached=tree.root(new))


def ccf_leaf(data_hash: bytes, seqno: int) -> list[Any]:
    tx = hashlib.sha256(b"write set %d" % seqno).digest()
    return [tx, f"ce:2.{seqno}:{'ab' * 32}", data_hash]


def ccf_leaf_hash(leaf: list[Any]) -> bytes:
    ev = hashlib.sha256(leaf[1].encode()).digest()
    return hashlib.sha256(leaf[0] + ev + leaf[2]).digest()


def ccf_tree(leaves: list[list[Any]]) -> MemoryTree:
    return MemoryTree([ccf_leaf_hash(leaf) for leaf in leaves], rule=CCF)


def ccf_path(tree: MemoryTree, index: int, size: int) -> list[list[Any]]:
    """A CCF path (left?, hash) from tlog.merkle's RFC 9162 proof and its step directions."""
    proof = tree.inclusion_proof(index, size)
    return [[left, h] for left, h in zip(_inclusion_steps(index, size), proof, strict=True)]


def ccf_receipt(s: Signer, tree: MemoryTree, leaf: list[Any], index: int, size: int) -> bytes:
    proof = cbor2.dumps({1: leaf, 2: ccf_path(tree, index, size)})
    header = receipt_header(s, 2, **{"ccf.v1": {"txid": f"2.{size}"}})
    return sign1(s, header, {396: {-1: [proof]}}, None, detached=tree.root(size))


def statement(s: Signer, payload: bytes = b"artifact digest", iss: str = "issuer.example",
              kid: bytes = b"issuer-key") -> bytes:  # fmt: skip
    return sign1(s, {4: kid, 15: {1: iss, 2: "subject"}, 3: "text/plain"}, {}, payload)


def with_receipts(signed_statement: bytes, receipts: list[bytes]) -> bytes:
    item = cbor2.loads(signed_statement).value
    return cbor2.dumps(cbor2.CBORTag(18, [item[0], {394: receipts}, item[2], item[3]]))


def jwk(s: Signer, kid: str | None = None) -> dict[str, Any]:
    """The public JWK of an EC or Ed25519 signer."""
    import base64

    def b64(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    pub = s.public
    out: dict[str, Any]
    if isinstance(pub, ed25519.Ed25519PublicKey):
        from cryptography.hazmat.primitives import serialization

        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        out = {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}
    elif isinstance(pub, ec.EllipticCurvePublicKey):
        n = (pub.curve.key_size + 7) // 8
        nums = pub.public_numbers()
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[pub.curve.name]
        out = {"kty": "EC", "crv": crv, "x": b64(nums.x.to_bytes(n, "big")),
               "y": b64(nums.y.to_bytes(n, "big"))}  # fmt: skip
    else:
        nums = pub.public_numbers()
        out = {"kty": "RSA", "n": b64(nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")),
               "e": b64(nums.e.to_bytes(3, "big"))}  # fmt: skip
    if kid is not None:
        out["kid"] = kid
    return out


RULES = (RFC6962, CCF)


def root_verifier(s: Signer, name: str = ISSUER) -> CoseRfc9162Verifier:
    """The note verifier of s's RFC9162_SHA256 receipt signatures (the service's vkey)."""
    return CoseRfc9162Verifier(name, s.kid, spki_der(s.public))
