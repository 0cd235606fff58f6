"""SCITT transparent statements: a signed statement plus receipts in header 394. Pure.

A signed statement is a COSE_Sign1 by its issuer (CWT claims `iss`, `sub` in
header 15). A transparent statement carries, in its unprotected header 394, an
array of receipts, each a tagged COSE_Sign1 (RFC 9942) by a transparency
service proving that the signed statement is in the service's log.

What a receipt proves inclusion of is the *signed statement*: the transparent
statement re-encoded without header 394 (with no other unprotected header left,
that is the empty map CCF-based services register). For CCF_LEDGER_SHA256 the
leaf's data-hash must be SHA-256 of those bytes; for RFC9162_SHA256 they are the
log entry, leaf hash SHA-256(0x00 || bytes).

The issuer's key comes from x5chain (33, leaf first; for a did:x509 issuer the
chain must also resolve the DID) or from the trust store by (iss, kid). Each
receipt's service key comes from the trust store by (receipt iss, kid).
"""

from __future__ import annotations

import hashlib
from typing import Any

from tlog.cose import cbor
from tlog.cose import headers as h
from tlog.cose.algorithms import alg_name
from tlog.cose.errors import (
    CoseError,
    CoseSignatureError,
    MalformedCoseError,
    UnsupportedCoseAlgorithmError,
)
from tlog.cose.keys import load_certificate, spki_der
from tlog.cose.sign1 import CoseSign1, decode_sign1
from tlog.scitt import did_x509
from tlog.scitt.errors import (
    KeyUnavailableError,
    MalformedReceiptError,
    MalformedStatementError,
    ReceiptProofError,
    ReceiptSignatureError,
)
from tlog.scitt.legacy_receipt import parse_legacy_receipt
from tlog.scitt.receipt import (
    VDS_RFC9162_SHA256,
    Receipt,
    SignedRoot,
    parse_receipt,
    verify_consistency_receipt,
    verify_inclusion_receipt,
)
from tlog.scitt.report import (
    FAILED,
    MALFORMED,
    OK,
    UNAVAILABLE,
    Check,
    ReceiptReport,
    StatementReport,
)
from tlog.scitt.trust_store import TrustStore

MAX_RECEIPTS = 16
_X5T_HASHES = {-16: hashlib.sha256, -43: hashlib.sha384, -44: hashlib.sha512}


def decode_statement(data: bytes) -> CoseSign1:
    """Decode a signed or transparent statement; MalformedStatementError if it is not one."""
    try:
        return decode_sign1(data, "statement")
    except MalformedCoseError as e:
        raise MalformedStatementError(str(e)) from None


def receipt_items(statement: CoseSign1) -> list[Any]:
    """The raw elements of header 394 (byte strings in a well-formed statement)."""
    if h.RECEIPTS in statement.protected:
        raise MalformedStatementError("receipts (394) must be in the unprotected header")
    items = statement.unprotected.get(h.RECEIPTS)
    if items is None:
        return []
    if not isinstance(items, list | tuple) or not items:
        raise MalformedStatementError("receipts (394) must be a non-empty array")
    if len(items) > MAX_RECEIPTS:
        raise MalformedStatementError(
            f"receipts (394) has {len(items)} receipts, at most {MAX_RECEIPTS}"
        )
    return list(items)


def signed_statement_bytes(statement: CoseSign1) -> bytes:
    """The signed statement the receipts are for: the statement without header 394."""
    rest = {k: v for k, v in statement.unprotected.items() if k != h.RECEIPTS}
    return statement.encode(rest)


def _issuer_checks(
    statement: CoseSign1, store: TrustStore | None, payload: bytes | None
) -> list[Check]:
    checks: list[Check] = []
    claims = h.cwt_claims(statement.protected.get(h.CWT_CLAIMS))
    iss = h.text_claim(claims, h.CWT_ISS, "iss")
    chain = h.x5chain(statement.header(h.X5CHAIN))
    kid = h.header_kid(statement.header(h.KID))
    certs = [load_certificate(c, f"x5chain certificate {i}") for i, c in enumerate(chain)]
    key = None
    key_from = ""
    if certs:
        key = certs[0].public_key()
        key_from = f"x5chain leaf {certs[0].subject.rfc4514_string()!r}"
        checks.extend(_x5t_check(statement, chain[0]))
    elif store is None:
        checks.append(
            Check("issuer key", UNAVAILABLE, f"no x5chain and no trust store for issuer {iss!r}")
        )
    else:
        try:
            trusted = store.lookup(iss, kid, "issuer")
        except KeyUnavailableError as e:
            checks.append(Check("issuer key", UNAVAILABLE, str(e)))
        else:
            key, key_from = trusted.key, f"trust store {trusted.source}"
    if key is not None:
        checks.append(_signature_check(statement, key, key_from, payload))
        checks.append(_identity_check(iss, certs, key, store))
    return checks


def _x5t_check(statement: CoseSign1, leaf: bytes) -> list[Check]:
    x5t = statement.header(h.X5T)
    if x5t is None:
        return []
    if (
        not isinstance(x5t, list | tuple)
        or len(x5t) != 2
        or x5t[0] not in _X5T_HASHES
        or not isinstance(x5t[1], bytes)
    ):
        return [Check("x5t", MALFORMED, "x5t (34) must be [SHA-256/384/512 alg id, bstr]")]
    if _X5T_HASHES[x5t[0]](leaf).digest() != x5t[1]:
        return [Check("x5t", FAILED, "x5t (34) thumbprint does not match the x5chain leaf")]
    return [Check("x5t", OK, "x5t (34) matches the x5chain leaf")]


def _signature_check(statement: CoseSign1, key: Any, key_from: str, payload: bytes | None) -> Check:
    name = "issuer signature"
    if statement.payload is None and payload is None:
        return Check(name, UNAVAILABLE, "payload is detached and was not supplied")
    try:
        statement.verify(key, payload if statement.payload is None else None)
    except CoseSignatureError as e:
        return Check(name, FAILED, f"{e} with the key of {key_from}")
    except UnsupportedCoseAlgorithmError as e:
        return Check(name, UNAVAILABLE, str(e))
    except MalformedCoseError as e:
        return Check(name, MALFORMED, str(e))
    return Check(name, OK, f"{alg_name(statement.alg)} by {key_from}")


def _identity_check(iss: str | None, certs: list[Any], key: Any, store: TrustStore | None) -> Check:
    """Is the signing key the issuer's? did:x509 resolution, or the issuer's key in the store."""
    name = "issuer identity"
    if iss is not None and iss.startswith("did:x509:") and certs:
        try:
            return Check(name, OK, did_x509.resolve(iss, certs))
        except did_x509.DidX509UnsupportedError as e:
            return Check(name, UNAVAILABLE, str(e))
        except did_x509.DidX509Error as e:
            return Check(name, FAILED, str(e))
    if not certs:
        return Check(name, OK, f"key is the trust store's key for issuer {iss!r}")
    if store is not None:
        wanted = spki_der(key)
        if any(t.issuer == iss and spki_der(t.key) == wanted for t in store.keys):
            return Check(name, OK, f"x5chain leaf key is in trust store {store.name} for {iss!r}")
    return Check(
        name,
        UNAVAILABLE,
        f"issuer {iss!r} is not did:x509 and its x5chain key is not in the trust store",
    )


def _receipt_report(
    index: int,
    item: Any,
    store: TrustStore | None,
    *,
    entry: bytes | None = None,
    entry_hash: bytes | None = None,
    old_root: bytes | None = None,
    inclusion_only: bool = True,
) -> ReceiptReport:
    if not isinstance(item, bytes):
        bad = Check("receipt", MALFORMED, "receipt is not a byte string")
        return ReceiptReport(index, None, None, None, None, None, (bad,))
    try:
        receipt = parse_receipt(item, f"receipt {index}")
    except MalformedReceiptError as e:
        legacy = _legacy(item)
        if legacy is not None:
            why = Check("receipt", UNAVAILABLE, legacy.reason())
            return ReceiptReport(index, legacy.service, None, legacy.tree_alg, None, None, (why,))
        return ReceiptReport(
            index, None, None, None, None, None, (Check("receipt", MALFORMED, str(e)),)
        )
    return check_receipt(
        index,
        receipt,
        store,
        entry=entry,
        entry_hash=entry_hash,
        old_root=old_root,
        inclusion_only=inclusion_only,
    )


def _legacy(item: bytes) -> Any:
    try:
        return parse_legacy_receipt(cbor.decode(item, "receipt"))
    except MalformedCoseError:
        return None


def check_receipt(
    index: int,
    receipt: Receipt,
    store: TrustStore | None,
    *,
    entry: bytes | None = None,
    entry_hash: bytes | None = None,
    old_root: bytes | None = None,
    inclusion_only: bool = False,
) -> ReceiptReport:
    """Check one parsed receipt: its proof, the service key, the signature over the root."""
    kid = None if receipt.kid is None else _kid(receipt.kid)
    checks: list[Check] = []
    signed: SignedRoot | None = None

    def report() -> ReceiptReport:
        return ReceiptReport(
            index, receipt.issuer, kid, receipt.tree_alg, receipt.alg, signed, tuple(checks)
        )

    if inclusion_only and not receipt.inclusion:
        checks.append(Check("proof", MALFORMED, "a statement's receipt must prove inclusion"))
        return report()
    key = None
    if store is None:
        key_check = Check(
            "service key", UNAVAILABLE, f"no trust store for {receipt.describe_key()}"
        )
    else:
        try:
            trusted = store.lookup(receipt.issuer, receipt.kid, "service")
            key = trusted.key
            key_check = Check("service key", OK, f"trust store {trusted.source}")
        except KeyUnavailableError as e:
            key_check = Check("service key", UNAVAILABLE, str(e))
    need_leaf = (
        receipt.inclusion
        and entry is None
        and entry_hash is None
        and receipt.vds == VDS_RFC9162_SHA256
    )
    if need_leaf:
        checks.append(
            Check("proof", UNAVAILABLE, "RFC9162_SHA256 inclusion: no entry or leaf hash given")
        )
        checks.append(key_check)
        return report()
    try:
        if receipt.inclusion:
            signed = verify_inclusion_receipt(receipt, None, entry=entry, entry_hash=entry_hash)
        else:
            signed = verify_consistency_receipt(receipt, None, old_root)
    except ReceiptProofError as e:
        checks.append(Check("proof", FAILED, str(e)))
        return report()
    except MalformedReceiptError as e:
        checks.append(Check("proof", MALFORMED, str(e)))
        return report()
    checks.append(Check("proof", OK, _proof_detail(receipt, signed, entry, entry_hash, old_root)))
    checks.append(key_check)
    if key is None:
        checks.append(Check("signature", UNAVAILABLE, f"no key for {receipt.describe_key()}"))
        return report()
    try:
        if receipt.inclusion:
            signed = verify_inclusion_receipt(receipt, key, entry=entry, entry_hash=entry_hash)
        else:
            signed = verify_consistency_receipt(receipt, key, old_root)
    except ReceiptSignatureError as e:
        checks.append(Check("signature", FAILED, str(e)))
    except KeyUnavailableError as e:
        checks.append(Check("signature", UNAVAILABLE, str(e)))
    else:
        checks.append(
            Check("signature", OK, f"{alg_name(receipt.alg)} over root {signed.root.hex()}")
        )
    return report()


def _proof_detail(
    receipt: Receipt,
    signed: SignedRoot,
    entry: bytes | None,
    entry_hash: bytes | None,
    old_root: bytes | None,
) -> str:
    if receipt.consistency:
        source = "the given old root" if old_root is not None else "the proof alone: compare it"
        assert signed.old_root is not None
        return (
            f"size {signed.old_size} root {signed.old_root.hex()} (from {source}) extends "
            f"to size {signed.tree_size} root {signed.root.hex()}"
        )
    if entry is None and entry_hash is None:
        what = "the proof's own CCF leaf (what it commits to was not checked)"
    elif entry is not None:
        what = "the signed statement"
    else:
        what = "the given leaf hash"
    size = "" if signed.tree_size is None else f", tree size {signed.tree_size}"
    index = "" if signed.leaf_index is None else f", leaf index {signed.leaf_index}"
    return f"inclusion of {what} leads to root {signed.root.hex()}{size}{index}"


def _kid(kid: bytes) -> str:
    try:
        text = kid.decode("ascii")
    except UnicodeDecodeError:
        return kid.hex()
    return text if text.isprintable() else kid.hex()


def verify_statement(
    data: bytes, store: TrustStore | None, payload: bytes | None = None
) -> StatementReport:
    """Check a signed or transparent statement as far as the keys available allow.

    Raises MalformedStatementError when data is not a COSE_Sign1 at all; every
    other problem is a check in the report. A statement without receipts is
    reported as not transparent (unavailable).
    """
    statement = decode_statement(data)
    try:
        claims = h.cwt_claims(statement.protected.get(h.CWT_CLAIMS))
        iss = h.text_claim(claims, h.CWT_ISS, "iss")
        sub = h.text_claim(claims, h.CWT_SUB, "sub")
        ctype = statement.protected.get(h.CONTENT_TYPE)
        ctype = ctype if isinstance(ctype, str) else None
        alg = statement.alg
        items = receipt_items(statement)
    except (MalformedCoseError, MalformedStatementError) as e:
        raise MalformedStatementError(f"statement: {e}") from None
    try:
        checks = _issuer_checks(statement, store, payload)
    except CoseError as e:
        checks = [Check("issuer", MALFORMED, str(e))]
    if not items:
        checks.append(
            Check(
                "receipts",
                UNAVAILABLE,
                "no receipts (394): a signed statement, not a transparent one",
            )
        )
        return StatementReport(iss, sub, ctype, alg, tuple(checks))
    entry = signed_statement_bytes(statement)
    receipts = tuple(_receipt_report(i, item, store, entry=entry) for i, item in enumerate(items))
    return StatementReport(iss, sub, ctype, alg, tuple(checks), receipts)


def verify_receipt_file(
    data: bytes,
    store: TrustStore | None,
    *,
    entry: bytes | None = None,
    entry_hash: bytes | None = None,
    old_root: bytes | None = None,
) -> ReceiptReport:
    """Check a bare receipt (not inside a statement): inclusion given the entry or its hash,
    consistency given (optionally) the trusted old root."""
    return _receipt_report(
        0, data, store, entry=entry, entry_hash=entry_hash, old_root=old_root, inclusion_only=False
    )
