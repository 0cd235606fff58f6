"""did:x509 (DIF did:x509 method, version 0): does an x5chain resolve the issuer DID? Pure.

did:x509:0:<hash alg>:<base64url fingerprint of a CA certificate>::<policy>:<value>[::...]

The chain is leaf first; every certificate must be signed by the next one; the
fingerprint must match a certificate other than the leaf; every policy must hold
for the leaf. Policies checked: `eku:<OID>` (the leaf's extended key usage
contains OID) and `subject:<attr>:<value>[:<attr>:<value>...]` (the leaf's
subject has those attributes; attribute names CN, O, OU, L, ST, C or an OID).
Other policies raise DidX509Error naming them: never a silent pass. Validity
periods are not checked: statements are verified long after signing.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from tlog.scitt.errors import ScittError


class DidX509Error(ScittError):
    """A did:x509 DID that is malformed or not resolved by the chain."""


class DidX509UnsupportedError(DidX509Error):
    """A did:x509 DID using a hash or policy this module does not check."""


_HASHES = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}
_ATTRS = {"CN": NameOID.COMMON_NAME, "O": NameOID.ORGANIZATION_NAME,
          "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "L": NameOID.LOCALITY_NAME,
          "ST": NameOID.STATE_OR_PROVINCE_NAME, "C": NameOID.COUNTRY_NAME}  # fmt: skip
_OID = re.compile(r"[0-9]+(\.[0-9]+)+")


def _eku(leaf: x509.Certificate, oid: str) -> None:
    if not _OID.fullmatch(oid):
        raise DidX509Error(f"did:x509 eku policy: {oid!r} is not an OID")
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise DidX509Error("did:x509 eku policy: the leaf certificate has no EKU") from None
    if oid not in {u.dotted_string for u in usages}:
        raise DidX509Error(f"did:x509 eku policy: the leaf certificate's EKU lacks {oid}")


def _subject(leaf: x509.Certificate, value: str) -> None:
    parts = value.split(":")
    if len(parts) % 2:
        raise DidX509Error("did:x509 subject policy must be <attr>:<value> pairs")
    for attr, want in zip(parts[::2], parts[1::2], strict=True):
        oid = _ATTRS.get(attr) or (x509.ObjectIdentifier(attr) if _OID.fullmatch(attr) else None)
        if oid is None:
            raise DidX509Error(f"did:x509 subject policy: unknown attribute {attr!r}")
        got = [a.value for a in leaf.subject.get_attributes_for_oid(oid)]
        if unquote(want) not in got:
            raise DidX509Error(
                f"did:x509 subject policy: leaf {attr} is {got}, not {unquote(want)!r}"
            )


def resolve(did: str, chain: list[x509.Certificate]) -> str:
    """Check that chain (leaf first) resolves did; a one-line description of what matched."""
    head, sep, policies = did.partition("::")
    fields = head.split(":")
    if not sep or len(fields) != 5 or fields[:3] != ["did", "x509", "0"]:
        raise DidX509Error(f"{did[:80]!r} is not a did:x509 version 0 DID with a policy")
    alg, fingerprint = fields[3], fields[4]
    digest = _HASHES.get(alg)
    if digest is None:
        raise DidX509UnsupportedError(f"did:x509 hash algorithm {alg!r} is not supported")
    if len(chain) < 2:
        raise DidX509Error("did:x509 needs a chain of at least two certificates (leaf and CA)")
    for i, (cert, parent) in enumerate(itertools.pairwise(chain)):
        try:
            cert.verify_directly_issued_by(parent)
        except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
            raise DidX509Error(
                f"x5chain certificate {i} is not signed by certificate {i + 1}"
            ) from None
    prints = [
        base64.urlsafe_b64encode(digest(c.public_bytes(Encoding.DER)).digest())
        .rstrip(b"=")
        .decode()
        for c in chain[1:]
    ]
    if fingerprint not in prints:
        raise DidX509Error(
            f"did:x509 CA fingerprint {fingerprint} matches no CA certificate in x5chain"
        )
    leaf = chain[0]
    checked = []
    for policy in policies.split("::"):
        name, _, value = policy.partition(":")
        if name == "eku":
            _eku(leaf, value)
        elif name == "subject":
            _subject(leaf, value)
        else:
            raise DidX509UnsupportedError(f"did:x509 policy {name!r} is not supported here")
        checked.append(f"{name} {value}")
    ca = chain[1 + prints.index(fingerprint)].subject.rfc4514_string()
    return f"did:x509 resolved: CA {ca!r}; " + ", ".join(checked)
