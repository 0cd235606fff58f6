"""COSE Receipts (RFC 9942): parsing and verification of inclusion and consistency receipts. Pure.

A receipt is a tagged COSE_Sign1 whose protected header names the verifiable
data structure (vds, 395) and whose unprotected header carries its proofs
(vdp, 396: -1 inclusion proofs, -2 consistency proofs). Supported structures:

- 1 RFC9162_SHA256 (tlog.scitt.rfc9162_proof): inclusion and consistency.
- 2 CCF_LEDGER_SHA256 (tlog.scitt.ccf_proof): inclusion.

The payload is the Merkle root the proofs lead to and SHOULD be detached:
verification recomputes the root from the proof and then checks the service's
signature over it (an attached payload must equal the recomputed root). Every
proof in one receipt must lead to the same root, since one signature covers it.
The verified root is a *signed head* (SignedRoot) that witnesses can cosign and
compare like any checkpoint.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from tlog.cose import headers as h
from tlog.cose.algorithms import alg_name
from tlog.cose.errors import CoseSignatureError, MalformedCoseError, UnsupportedCoseAlgorithmError
from tlog.cose.sign1 import CoseSign1, decode_sign1
from tlog.merkle import HASH_SIZE, RFC6962
from tlog.scitt.ccf_proof import CcfInclusionProof, parse_ccf_inclusion_proof
from tlog.scitt.errors import (
    KeyUnavailableError,
    MalformedReceiptError,
    ReceiptProofError,
    ReceiptSignatureError,
)
from tlog.scitt.rfc9162_proof import (
    Rfc9162ConsistencyProof,
    Rfc9162InclusionProof,
    chain_consistency,
    parse_consistency,
    parse_inclusion,
)

VDS_RFC9162_SHA256 = 1
VDS_CCF_LEDGER_SHA256 = 2
VDS_NAMES = {VDS_RFC9162_SHA256: "RFC9162_SHA256", VDS_CCF_LEDGER_SHA256: "CCF_LEDGER_SHA256"}
VDP_INCLUSION = -1
VDP_CONSISTENCY = -2
MAX_PROOFS = 16
MAX_RECEIPT_SIZE = 64 * 1024
CCF_PROTECTED_LABEL = "ccf.v1"
_TXID = re.compile(r"(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})")

InclusionProof = Rfc9162InclusionProof | CcfInclusionProof


@dataclass(frozen=True, slots=True)
class Receipt:
    """A parsed COSE receipt; nothing in it is verified yet."""

    sign1: CoseSign1
    vds: int
    issuer: str | None
    kid: bytes | None
    inclusion: tuple[InclusionProof, ...]
    consistency: tuple[Rfc9162ConsistencyProof, ...]
    issued_at: int | None
    ccf_txid: str | None

    @property
    def tree_alg(self) -> str:
        return VDS_NAMES[self.vds]

    @property
    def alg(self) -> int:
        return self.sign1.alg

    def describe_key(self) -> str:
        """'kid <hex> of service <iss>' for messages about the key this receipt needs."""
        kid = _kid_text(self.kid)
        return f"kid {kid} of service {self.issuer or '(no iss claim)'}"


@dataclass(frozen=True, slots=True)
class SignedRoot:
    """A receipt's verified Merkle root: the signed head a witness can cosign.

    tree_size is None where the structure does not say it (a CCF receipt
    without a ccf.v1 txid); signature_checked is False when no key was given.
    """

    vds: int
    root: bytes
    tree_size: int | None
    issuer: str | None
    kid: bytes | None
    alg: int
    leaf_index: int | None
    old_size: int | None
    old_root: bytes | None
    ccf_txid: str | None
    issued_at: int | None
    signature_checked: bool


def _kid_text(kid: bytes | None) -> str:
    if kid is None:
        return "(none)"
    try:
        text = kid.decode("ascii")
    except UnicodeDecodeError:
        return kid.hex()
    return repr(text) if text.isprintable() else kid.hex()


def _ccf_txid(protected: Mapping[Any, Any]) -> str | None:
    ccf = protected.get(CCF_PROTECTED_LABEL)
    if ccf is None:
        return None
    txid = ccf.get("txid") if isinstance(ccf, Mapping) else None
    if not isinstance(txid, str) or not _TXID.fullmatch(txid):
        raise MalformedReceiptError(
            "receipt: ccf.v1 header must be a map with txid '<view>.<seqno>'"
        )
    return txid


def _proof_list(vdp: Mapping[Any, Any], label: int) -> list[Any]:
    proofs = vdp.get(label)
    if proofs is None:
        return []
    if not isinstance(proofs, list | tuple) or not proofs:
        raise MalformedReceiptError(f"receipt: vdp {label} must be a non-empty array of proofs")
    if len(proofs) > MAX_PROOFS:
        raise MalformedReceiptError(
            f"receipt: vdp {label} has {len(proofs)} proofs, at most {MAX_PROOFS}"
        )
    return list(proofs)


def receipt_from_sign1(sign1: CoseSign1) -> Receipt:
    """Interpret a decoded COSE_Sign1 as a COSE receipt."""
    try:
        _ = sign1.alg  # a receipt must name its algorithm in the protected header
        vds = sign1.protected.get(h.VDS)
        if vds is None:
            raise MalformedReceiptError("receipt: protected header has no vds (395)")
        # An int first: a map or array here is unhashable (found by fuzz/, scitt_receipt).
        if not isinstance(vds, int) or isinstance(vds, bool) or vds not in VDS_NAMES:
            raise MalformedReceiptError(
                f"receipt: verifiable data structure {vds!r} is not supported"
            )
        vdp = sign1.unprotected.get(h.VDP)
        if not isinstance(vdp, Mapping):
            raise MalformedReceiptError("receipt: unprotected header has no vdp (396) map")
        unknown = set(vdp) - {VDP_INCLUSION, VDP_CONSISTENCY}
        if unknown:
            raise MalformedReceiptError(
                f"receipt: unknown proof type {min(unknown, key=repr)!r} in vdp"
            )
        claims = h.cwt_claims(sign1.protected.get(h.CWT_CLAIMS))
        issuer = h.text_claim(claims, h.CWT_ISS, "iss")
        iat = claims.get(h.CWT_IAT)
        if iat is not None and (not isinstance(iat, int) or isinstance(iat, bool)):
            iat = None
        kid = h.header_kid(sign1.header(h.KID))
    except MalformedCoseError as e:
        raise MalformedReceiptError(f"receipt: {e}") from None
    inclusion_raw = _proof_list(vdp, VDP_INCLUSION)
    consistency_raw = _proof_list(vdp, VDP_CONSISTENCY)
    if not inclusion_raw and not consistency_raw:
        raise MalformedReceiptError("receipt: vdp holds no proof")
    if inclusion_raw and consistency_raw:
        raise MalformedReceiptError("receipt: vdp holds both inclusion and consistency proofs")
    inclusion: list[InclusionProof] = []
    for i, raw in enumerate(inclusion_raw):
        what = f"receipt inclusion proof {i}"
        if vds == VDS_RFC9162_SHA256:
            inclusion.append(parse_inclusion(raw, what))
        else:
            inclusion.append(parse_ccf_inclusion_proof(raw, what))
    if consistency_raw and vds != VDS_RFC9162_SHA256:
        raise MalformedReceiptError(f"receipt: {VDS_NAMES[vds]} has no consistency proofs")
    consistency = tuple(
        parse_consistency(raw, f"receipt consistency proof {i}")
        for i, raw in enumerate(consistency_raw)
    )
    if sign1.payload is not None and len(sign1.payload) != HASH_SIZE:
        raise MalformedReceiptError(
            f"receipt: attached payload is {len(sign1.payload)} bytes, not a {HASH_SIZE}-byte root"
        )
    txid = _ccf_txid(sign1.protected)
    return Receipt(sign1, vds, issuer, kid, tuple(inclusion), consistency, iat, txid)


def parse_receipt(data: bytes, what: str = "receipt") -> Receipt:
    """Decode a tagged COSE_Sign1 receipt (RFC 9942 requires the tag)."""
    try:
        sign1 = decode_sign1(data, what, require_tag=True, max_size=MAX_RECEIPT_SIZE)
    except MalformedCoseError as e:
        raise MalformedReceiptError(str(e)) from None
    return receipt_from_sign1(sign1)


def _check_signature(receipt: Receipt, root: bytes, key: PublicKeyTypes | None) -> bool:
    if receipt.sign1.payload is not None and receipt.sign1.payload != root:
        raise ReceiptProofError(
            f"receipt: attached payload {receipt.sign1.payload.hex()} is not the computed root "
            f"{root.hex()}"
        )
    if key is None:
        return False
    detached = root if receipt.sign1.payload is None else None
    try:
        receipt.sign1.verify(key, detached)
    except CoseSignatureError as e:
        raise ReceiptSignatureError(
            f"receipt signature by {receipt.describe_key()} over root {root.hex()}: {e}"
        ) from None
    except (UnsupportedCoseAlgorithmError, MalformedCoseError) as e:
        raise KeyUnavailableError(f"receipt by {receipt.describe_key()}: {e}") from None
    return True


def _ccf_shape(receipt: Receipt, proof: CcfInclusionProof) -> tuple[int | None, int | None]:
    """(tree size, leaf index) from the CCF txids: signature seqno and leaf seqno."""
    if receipt.ccf_txid is None:
        return None, None
    size = int(receipt.ccf_txid.split(".")[1])
    m = re.fullmatch(r"ce:(?:0|[1-9][0-9]*)\.(0|[1-9][0-9]*):.*", proof.leaf.internal_evidence)
    index = int(m.group(1)) if m else None
    return size, index


def inclusion_root(
    receipt: Receipt, *, entry: bytes | None = None, entry_hash: bytes | None = None
) -> tuple[bytes, int | None, int | None]:
    """(root, tree size, leaf index) that the receipt's inclusion proofs lead to.

    Give the entry (the bytes the receipt claims are in the log) or entry_hash:
    for RFC9162_SHA256 the RFC 6962 leaf hash SHA-256(0x00 || entry); for
    CCF_LEDGER_SHA256 the data-hash SHA-256(entry) that the CCF leaf commits to.
    A CCF proof with neither given is computed from its own leaf (it then proves
    only that the leaf is in the tree, not what the leaf is for).
    """
    if not receipt.inclusion:
        raise MalformedReceiptError("receipt has no inclusion proof")
    if entry is not None and entry_hash is not None:
        raise MalformedReceiptError("give the entry or its hash, not both")
    roots: set[bytes] = set()
    size = index = None
    for i, proof in enumerate(receipt.inclusion):
        if isinstance(proof, Rfc9162InclusionProof):
            leaf = RFC6962.leaf(entry) if entry is not None else entry_hash
            if leaf is None:
                raise MalformedReceiptError(
                    "an RFC9162_SHA256 inclusion receipt needs the entry or its leaf hash"
                )
            roots.add(proof.root(leaf))
            size, index = proof.tree_size, proof.leaf_index
        else:
            want = hashlib.sha256(entry).digest() if entry is not None else entry_hash
            if want is not None and want != proof.leaf.data_hash:
                raise ReceiptProofError(
                    f"receipt inclusion proof {i} is for data hash {proof.leaf.data_hash.hex()}, "
                    f"the entry hashes to {want.hex()}"
                )
            roots.add(proof.root())
            size, index = _ccf_shape(receipt, proof)
    if len(roots) != 1:
        raise ReceiptProofError(
            f"the receipt's {len(receipt.inclusion)} inclusion proofs lead to different roots"
        )
    return roots.pop(), size, index


def verify_inclusion_receipt(
    receipt: Receipt,
    key: PublicKeyTypes | None,
    *,
    entry: bytes | None = None,
    entry_hash: bytes | None = None,
) -> SignedRoot:
    """Recompute the root from the inclusion proofs, then check the service signature over it.

    With key None the proofs are checked and the result says signature_checked=False.
    """
    root, size, index = inclusion_root(receipt, entry=entry, entry_hash=entry_hash)
    checked = _check_signature(receipt, root, key)
    return SignedRoot(
        receipt.vds,
        root,
        size,
        receipt.issuer,
        receipt.kid,
        receipt.alg,
        index,
        None,
        None,
        receipt.ccf_txid,
        receipt.issued_at,
        checked,
    )


def verify_consistency_receipt(
    receipt: Receipt, key: PublicKeyTypes | None, old_root: bytes | None
) -> SignedRoot:
    """Check that the receipt's new root extends old_root, then the signature over the new root.

    old_root is the root of tree-size-1 that the verifier already trusts (from an
    earlier receipt). Without it the proof can still yield the old root for an old
    size that is not a power of two; the result then carries that implied root, which
    the caller must compare with one it trusts.
    """
    if not receipt.consistency:
        raise MalformedReceiptError("receipt has no consistency proof")
    old_size, old, new_size, new = chain_consistency(receipt.consistency, old_root)
    checked = _check_signature(receipt, new, key)
    return SignedRoot(
        receipt.vds,
        new,
        new_size,
        receipt.issuer,
        receipt.kid,
        receipt.alg,
        None,
        old_size,
        old,
        receipt.ccf_txid,
        receipt.issued_at,
        checked,
    )


def signature_algorithm(receipt: Receipt) -> str:
    """The receipt's signature algorithm name."""
    return alg_name(receipt.alg)
