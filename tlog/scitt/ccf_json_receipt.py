"""CCF JSON write receipts (CCF 2.x to 5.x `GET /app/receipt`). Pure.

{"cert": node certificate PEM, "node_id": hex, "signature": base64 DER ECDSA,
 "leaf_components": {"write_set_digest": hex32, "commit_evidence": "ce:<view>.<seqno>:<hex>",
                     "claims_digest": hex32},
 "proof": [{"left": hex32} | {"right": hex32}, ...],
 "service_endorsements": [PEM, ...] (optional)}

The leaf is SHA-256(write_set_digest || SHA-256(commit_evidence) || claims_digest)
(the CCF leaf of tlog.scitt.ccf_proof); the proof folds into it from the leaf
up, {"left": h} giving SHA-256(h || acc) and {"right": h} SHA-256(acc || h).
The node signs the root as a *prehashed* SHA-256 digest with the key of `cert`.
The node certificate is endorsed by the service identity: that last step needs
the service certificate, which the verifier must supply.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from tlog.cose.errors import CoseError
from tlog.cose.keys import load_certificate, spki_der
from tlog.merkle import HASH_SIZE
from tlog.scitt.ccf_proof import MAX_EVIDENCE, MAX_PATH, CcfLeaf, ccf_root
from tlog.scitt.errors import MalformedReceiptError
from tlog.scitt.report import FAILED, OK, UNAVAILABLE, Check

MAX_RECEIPT_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class CcfJsonReceipt:
    node_cert: x509.Certificate
    node_id: str | None
    signature: bytes
    leaf: CcfLeaf
    path: tuple[tuple[bool, bytes], ...]
    endorsements: tuple[x509.Certificate, ...]

    def root(self) -> bytes:
        return ccf_root(self.leaf.hash(), self.path)


def _hex32(value: Any, what: str) -> bytes:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != HASH_SIZE or value != raw.hex():
        raise MalformedReceiptError(f"{what} must be {HASH_SIZE * 2} lowercase hex digits")
    return raw


def _cert(value: Any, what: str) -> x509.Certificate:
    if not isinstance(value, str):
        raise MalformedReceiptError(f"{what} must be a PEM string")
    try:
        return load_certificate(value.encode("utf-8"), what)
    except CoseError as e:
        raise MalformedReceiptError(str(e)) from None


def parse_ccf_json_receipt(data: bytes) -> CcfJsonReceipt:
    """Parse a CCF JSON receipt; MalformedReceiptError naming the member at fault."""
    if len(data) > MAX_RECEIPT_SIZE:
        raise MalformedReceiptError(f"CCF receipt is {len(data)} bytes, at most {MAX_RECEIPT_SIZE}")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise MalformedReceiptError(f"CCF receipt is not JSON: {e}") from None
    if not isinstance(doc, Mapping):
        raise MalformedReceiptError("CCF receipt must be a JSON object")
    cert = _cert(doc.get("cert"), "CCF receipt cert")
    node_id = doc.get("node_id")
    if node_id is not None and not isinstance(node_id, str):
        raise MalformedReceiptError("CCF receipt node_id must be a string")
    try:
        signature = base64.b64decode(doc.get("signature", ""), validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise MalformedReceiptError("CCF receipt signature must be base64") from None
    if not signature:
        raise MalformedReceiptError("CCF receipt has no signature")
    parts = doc.get("leaf_components")
    if not isinstance(parts, Mapping):
        raise MalformedReceiptError("CCF receipt has no leaf_components object")
    evidence = parts.get("commit_evidence")
    if not isinstance(evidence, str) or not 1 <= len(evidence.encode("utf-8")) <= MAX_EVIDENCE:
        raise MalformedReceiptError("CCF receipt commit_evidence must be a non-empty string")
    leaf = CcfLeaf(
        _hex32(parts.get("write_set_digest"), "CCF receipt write_set_digest"),
        evidence,
        _hex32(parts.get("claims_digest"), "CCF receipt claims_digest"),
    )
    proof = doc.get("proof")
    if not isinstance(proof, list) or len(proof) > MAX_PATH:
        raise MalformedReceiptError(f"CCF receipt proof must be an array of at most {MAX_PATH}")
    path = []
    for i, step in enumerate(proof):
        if not isinstance(step, Mapping) or len(step) != 1 or set(step) - {"left", "right"}:
            raise MalformedReceiptError(
                f"CCF receipt proof[{i}] must be {{left: h}} or {{right: h}}"
            )
        ((side, h),) = step.items()
        path.append((side == "left", _hex32(h, f"CCF receipt proof[{i}].{side}")))
    endorsements = doc.get("service_endorsements", [])
    if not isinstance(endorsements, list):
        raise MalformedReceiptError("CCF receipt service_endorsements must be an array")
    chain = tuple(
        _cert(c, f"CCF receipt service_endorsements[{i}]") for i, c in enumerate(endorsements)
    )
    return CcfJsonReceipt(cert, node_id, signature, leaf, tuple(path), chain)


def check_ccf_json_receipt(
    receipt: CcfJsonReceipt, service_cert: x509.Certificate | None
) -> tuple[bytes, list[Check]]:
    """The receipt's root and the checks: node id, node signature, service endorsement."""
    root = receipt.root()
    checks = [Check("proof", OK, f"leaf {receipt.leaf.hash().hex()} leads to root {root.hex()}")]
    key = receipt.node_cert.public_key()
    if receipt.node_id is not None:
        want = hashlib.sha256(spki_der(key)).hexdigest()
        if receipt.node_id != want:
            checks.append(Check("node id", FAILED, f"node_id is not {want}, the cert's key hash"))
        else:
            checks.append(Check("node id", OK, "node_id is SHA-256 of the node cert's key"))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        checks.append(Check("signature", UNAVAILABLE, "node cert key is not ECDSA"))
    else:
        try:
            key.verify(receipt.signature, root, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
            checks.append(Check("signature", OK, "node key signs the root (prehashed SHA-256)"))
        except InvalidSignature:
            checks.append(
                Check("signature", FAILED, f"node signature over root {root.hex()} is invalid")
            )
    checks.append(_endorsement(receipt, service_cert))
    return root, checks


def _endorsement(receipt: CcfJsonReceipt, service_cert: x509.Certificate | None) -> Check:
    if service_cert is None:
        return Check(
            "service endorsement",
            UNAVAILABLE,
            "no service certificate given: the node certificate "
            f"{receipt.node_cert.subject.rfc4514_string()!r} issued by "
            f"{receipt.node_cert.issuer.rfc4514_string()!r} cannot be tied to a service identity",
        )
    chain = [receipt.node_cert, *receipt.endorsements, service_cert]
    for i, (cert, parent) in enumerate(itertools.pairwise(chain)):
        try:
            cert.verify_directly_issued_by(parent)
        except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
            return Check(
                "service endorsement", FAILED, f"certificate {i} is not signed by the next"
            )
    return Check("service endorsement", OK, "node certificate is endorsed by the service")
