"""CCF signature transactions: the node signature, the COSE root signature, the tree table.

A signature transaction at seqno s signs the root of the tree of leaves 0..s-1 (leaf 0 is
32 zero bytes, leaf i the digest of transaction i); it becomes leaf s itself afterwards.

- `public:ccf.internal.signatures`: JSON {node, seqno, view, root (hex), sig (base64 DER
  ECDSA over the root used as a prehashed SHA-256 digest, by the node key), cert (node cert
  PEM, absent before CCF 2), commit_seqno, commit_view, hashed_nonce}.
- `public:ccf.internal.cose_signatures` (CCF 5+): a JSON string holding base64 COSE_Sign1 by
  the service key, payload detached (= the root); protected header {1: alg, 4: kid,
  395: 2 (CCF_LEDGER_SHA256), 15: CWT claims {1: iss, 2: sub, 6: iat}, "ccf.v1": {"txid": "v.s"}}.
- `public:ccf.internal.tree`: u64 BE count n, u64 BE first index m, the n leaf hashes m..m+n-1,
  then the hashes of the complete subtrees that cover leaves 0..m-1, smallest (rightmost) first.

Every table's single row is under the 8-zero-byte key.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from tlog.ccf.errors import CcfError
from tlog.ccf.tx import DIGEST_SIZE, Transaction
from tlog.cose import headers as cose_headers
from tlog.cose.errors import CoseError
from tlog.cose.sign1 import CoseSign1, decode_sign1

SIGNATURES_TABLE = "public:ccf.internal.signatures"
COSE_SIGNATURES_TABLE = "public:ccf.internal.cose_signatures"
TREE_TABLE = "public:ccf.internal.tree"
NODES_TABLE = "public:ccf.gov.nodes.info"
ENDORSED_CERTS_TABLE = "public:ccf.gov.nodes.endorsed_certificates"
SERVICE_INFO_TABLE = "public:ccf.gov.service.info"
SINGLETON_KEY = bytes(8)
VDS_CCF_LEDGER_SHA256 = 2
COSE_TXID_HEADER = "ccf.v1"
MAX_COSE_BYTES = 1 << 16
_TXID = re.compile(r"(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})")


class SignatureFormatError(CcfError):
    """A signature or governance row that does not parse; verify.py adds file and seqno."""


@dataclass(frozen=True, slots=True)
class NodeSignature:
    """The row of public:ccf.internal.signatures."""

    node: str
    seqno: int
    view: int
    root: bytes
    signature: bytes
    cert_pem: bytes | None
    commit_seqno: int | None
    commit_view: int | None


@dataclass(frozen=True, slots=True)
class CoseRootSignature:
    """The COSE_Sign1 of public:ccf.internal.cose_signatures, with its headers decoded."""

    sign1: CoseSign1
    encoded: bytes
    kid: bytes | None
    view: int
    seqno: int
    issuer: str | None
    issued_at: int | None

    def verify(self, key: ec.EllipticCurvePublicKey, root: bytes) -> bool:
        """True when the service key signed root with this header."""
        try:
            self.sign1.verify(key, root)
        except CoseError:
            return False
        return True


def singleton(tx: Transaction, table: str) -> bytes | None:
    """The value tx writes to the single-row table, or None when it does not write one."""
    t = tx.public.table(table)
    return None if t is None else t.get(SINGLETON_KEY)


def is_signature_transaction(tx: Transaction) -> bool:
    """True when tx carries a node or COSE root signature."""
    return any(tx.public.table(n) is not None for n in (SIGNATURES_TABLE, COSE_SIGNATURES_TABLE))


def _field(obj: dict[str, Any], key: str, kind: type, optional: bool = False) -> Any:
    value = obj.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise SignatureFormatError(f"signature field {key!r} is missing or not a {kind.__name__}")
    return value


def parse_node_signature(value: bytes) -> NodeSignature:
    """Parse the JSON row of public:ccf.internal.signatures."""
    try:
        obj = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SignatureFormatError(f"signature row is not JSON ({e})") from None
    if not isinstance(obj, dict):
        raise SignatureFormatError("signature row is not a JSON object")
    try:
        root = bytes.fromhex(_field(obj, "root", str))
        sig = base64.b64decode(_field(obj, "sig", str), validate=True)
    except (ValueError, binascii.Error) as e:
        raise SignatureFormatError(f"signature root or sig does not decode ({e})") from None
    if len(root) != DIGEST_SIZE:
        raise SignatureFormatError(f"signed root is {len(root)} bytes, want {DIGEST_SIZE}")
    cert = _field(obj, "cert", str, optional=True)
    return NodeSignature(
        node=_field(obj, "node", str),
        seqno=_field(obj, "seqno", int),
        view=_field(obj, "view", int),
        root=root,
        signature=sig,
        cert_pem=cert.encode("utf-8") if cert else None,
        commit_seqno=_field(obj, "commit_seqno", int, optional=True),
        commit_view=_field(obj, "commit_view", int, optional=True),
    )


def parse_txid(value: object) -> tuple[int, int]:
    """(view, seqno) from a "view.seqno" string."""
    if not isinstance(value, str) or not (m := _TXID.fullmatch(value)):
        raise SignatureFormatError(f"transaction ID {value!r} is not <view>.<seqno>")
    return int(m[1]), int(m[2])


def decode_cose_root_signature(encoded: bytes) -> CoseRootSignature:
    """Decode a COSE root signature (raw COSE_Sign1 bytes) and its CCF headers."""
    try:
        sign1 = decode_sign1(encoded, "COSE root signature", max_size=MAX_COSE_BYTES)
    except CoseError as e:
        raise SignatureFormatError(str(e)) from None
    h = sign1.protected
    if sign1.payload is not None:
        raise SignatureFormatError("COSE root signature has an attached payload; CCF detaches it")
    if h.get(cose_headers.VDS) != VDS_CCF_LEDGER_SHA256:
        raise SignatureFormatError(
            f"COSE root signature vds is {h.get(cose_headers.VDS)!r}, want 2"
        )
    ccf_header = h.get(COSE_TXID_HEADER)
    if not hasattr(ccf_header, "get"):
        raise SignatureFormatError("COSE root signature has no ccf.v1 header")
    view, seqno = parse_txid(ccf_header.get("txid"))
    kid = h.get(cose_headers.KID)
    claims = h.get(cose_headers.CWT_CLAIMS)
    claims = claims if hasattr(claims, "get") else {}
    iss, iat = claims.get(1), claims.get(6)
    return CoseRootSignature(
        sign1=sign1,
        encoded=bytes(encoded),
        kid=kid if isinstance(kid, bytes) else None,
        view=view,
        seqno=seqno,
        issuer=iss if isinstance(iss, str) else None,
        issued_at=iat if isinstance(iat, int) and not isinstance(iat, bool) else None,
    )


def parse_cose_signature_row(value: bytes) -> CoseRootSignature:
    """The row of public:ccf.internal.cose_signatures: a JSON string of base64 COSE_Sign1."""
    try:
        text = json.loads(value)
        if not isinstance(text, str):
            raise SignatureFormatError("COSE signature row is not a JSON string")
        raw = base64.b64decode(text, validate=True)
    except (UnicodeDecodeError, json.JSONDecodeError, binascii.Error, ValueError) as e:
        raise SignatureFormatError(f"COSE signature row does not decode ({e})") from None
    return decode_cose_root_signature(raw)


@dataclass(frozen=True, slots=True)
class TreeTable:
    """The serialised tree of public:ccf.internal.tree."""

    first: int
    leaves: tuple[bytes, ...]
    left_subtrees: tuple[bytes, ...]

    @property
    def size(self) -> int:
        return self.first + len(self.leaves)


def parse_tree_table(value: bytes) -> TreeTable:
    """Parse the serialised tree (module doc); the subtree count must match the first index."""
    if len(value) < 16 or (len(value) - 16) % DIGEST_SIZE:
        raise SignatureFormatError(f"tree row of {len(value)} bytes is not 16 + 32k bytes")
    count = int.from_bytes(value[:8], "big")
    first = int.from_bytes(value[8:16], "big")
    hashes_ = [value[i : i + DIGEST_SIZE] for i in range(16, len(value), DIGEST_SIZE)]
    if count + first.bit_count() != len(hashes_):
        raise SignatureFormatError(
            f"tree row lists {len(hashes_)} hashes, "
            f"want {count} leaves + {first.bit_count()} subtrees"
        )
    return TreeTable(first, tuple(hashes_[:count]), tuple(hashes_[count:]))


def load_cert(pem: bytes) -> x509.Certificate:
    """A PEM certificate; SignatureFormatError when it does not parse."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
        cert.public_key()
    except (ValueError, UnsupportedAlgorithm, x509.InvalidVersion) as e:
        raise SignatureFormatError(f"certificate does not parse ({e})") from None
    return cert


def spki(cert: x509.Certificate) -> bytes:
    """The DER SubjectPublicKeyInfo of cert."""
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def verify_root_signature(key: ec.EllipticCurvePublicKey, root: bytes, signature: bytes) -> bool:
    """CCF's node signature: DER ECDSA over the root as a prehashed SHA-256 digest."""
    try:
        key.verify(signature, root, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    except (InvalidSignature, ValueError):
        return False
    return True


def ec_key(cert: x509.Certificate) -> ec.EllipticCurvePublicKey:
    """cert's EC public key; SignatureFormatError for any other key type."""
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SignatureFormatError("certificate key is not ECDSA")
    return key
