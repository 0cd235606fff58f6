"""Synthetic CCF ledgers with keys the tests hold: forks, growth, COSE root signatures.

Written with tlog.ccf's own encoders in CCF's format (entry type 4, governance in seqno 1,
a signature transaction with node signature, COSE root signature and tree table wherever
asked), so tlog.ccf.verify checks them exactly like real ledgers.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from collections.abc import Iterable

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import NameOID

from tlog.ccf.chunk import chunk_name, encode_chunk
from tlog.ccf.signatures import (
    COSE_SIGNATURES_TABLE,
    ENDORSED_CERTS_TABLE,
    NODES_TABLE,
    SERVICE_INFO_TABLE,
    SIGNATURES_TABLE,
    SINGLETON_KEY,
    TREE_TABLE,
)
from tlog.ccf.tx import EntryType, PublicDomain, Table, encode_transaction, parse_transaction
from tlog.merkle import CCF, MemoryTree

VIEW = 2


def _cert(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey
) -> x509.Certificate:
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(signer, hashes.SHA384())
    )


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class Service:
    """A CCF service identity and one node, with fresh keys."""

    def __init__(self, issuer: str = "synthetic.ccf.example") -> None:
        self.issuer = issuer
        self.service_key = ec.generate_private_key(ec.SECP384R1())
        self.node_key = ec.generate_private_key(ec.SECP384R1())
        self.service_cert = _cert("CCF Service", self.service_key, "CCF Service", self.service_key)
        self.node_cert = _cert("CCF Node", self.node_key, "CCF Service", self.service_key)
        spki = self.node_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.node_id = hashlib.sha256(spki).hexdigest()
        service_spki = self.service_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = hashlib.sha256(service_spki).hexdigest().encode()


def _pd(seqno: int, tables: Iterable[Table]) -> PublicDomain:
    return PublicDomain(
        EntryType.WRITE_SET_WITH_COMMIT_EVIDENCE_AND_CLAIMS,
        seqno,
        bytes(32),
        hashlib.sha256(f"ce:{VIEW}.{seqno}".encode()).digest(),
        0,
        tuple(sorted(tables, key=lambda t: t.name)),
    )


def _row(name: str, value: bytes, key: bytes = SINGLETON_KEY) -> Table:
    return Table(name, 0, ((key, value),))


class LedgerWriter:
    """Appends transactions; `sign()` appends a signature transaction over the current tree."""

    def __init__(self, service: Service, cose: bool = True) -> None:
        self.service = service
        self.cose = cose
        self.txs: list[bytes] = []
        self.tree = MemoryTree([bytes(32)], CCF)
        self.last_sig = 0
        s = service
        info = json.dumps({"cert": _pem(s.service_cert), "status": "Open"}).encode()
        node = json.dumps({"status": "Trusted"}).encode()
        self._append(
            [
                _row(SERVICE_INFO_TABLE, info),
                _row(NODES_TABLE, node, s.node_id.encode()),
                _row(ENDORSED_CERTS_TABLE, _pem(s.node_cert).encode(), s.node_id.encode()),
            ]
        )

    @property
    def seqno(self) -> int:
        return len(self.txs)

    def _append(self, tables: list[Table]) -> None:
        seqno = self.seqno + 1
        raw = encode_transaction(seqno, VIEW, _pd(seqno, tables))
        self.txs.append(raw)
        self.tree.append(parse_transaction(raw).leaf())

    def write(self, key: bytes, value: bytes) -> None:
        self._append([_row("public:records", value, key)])

    def sign(self) -> None:
        s, seqno = self.service, self.seqno + 1
        root = self.tree.root()
        sig = s.node_key.sign(root, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        row = {
            "cert": _pem(s.node_cert),
            "commit_seqno": self.last_sig,
            "commit_view": VIEW,
            "hashed_nonce": "00" * 32,
            "node": s.node_id,
            "root": root.hex(),
            "seqno": seqno,
            "sig": base64.b64encode(sig).decode(),
            "view": VIEW,
        }
        tables = [
            _row(SIGNATURES_TABLE, json.dumps(row).encode()),
            _row(TREE_TABLE, self._tree_row()),
        ]
        if self.cose:
            tables.append(_row(COSE_SIGNATURES_TABLE, json.dumps(self._cose(root, seqno)).encode()))
        self._append(tables)
        self.last_sig = seqno

    def _tree_row(self) -> bytes:
        first, size = self.last_sig, self.tree.size
        out = bytearray((size - first).to_bytes(8, "big") + first.to_bytes(8, "big"))
        for i in range(first, size):
            out += self.tree.node_hash(0, i)
        subtrees, start = [], 0
        for level in reversed(range(first.bit_length())):
            if first >> level & 1:
                subtrees.append(self.tree.node_hash(level, start >> level))
                start += 1 << level
        for h in reversed(subtrees):
            out += h
        return bytes(out)

    def _cose(self, root: bytes, seqno: int) -> str:
        s = self.service
        header = {
            1: -35,
            4: s.kid,
            395: 2,
            15: {1: s.issuer, 2: "scitt.ccf.signature.v1", 6: 1_767_225_600 + seqno},
            "ccf.v1": {"txid": f"{VIEW}.{seqno}"},
        }
        prot = cbor2.dumps(header)
        tbs = cbor2.dumps(["Signature1", prot, b"", root])
        r, sv = utils.decode_dss_signature(s.service_key.sign(tbs, ec.ECDSA(hashes.SHA384())))
        sign1 = cbor2.CBORTag(18, [prot, {}, None, r.to_bytes(48, "big") + sv.to_bytes(48, "big")])
        return base64.b64encode(cbor2.dumps(sign1)).decode()

    def chunks(self, *cuts: int) -> list[tuple[str, bytes]]:
        """The ledger as committed chunks ending at each cut seqno (and at the last one)."""
        bounds = [*cuts, self.seqno] if not cuts or cuts[-1] != self.seqno else list(cuts)
        out, first = [], 1
        for last in bounds:
            out.append((chunk_name(first, last), encode_chunk(self.txs[first - 1 : last])))
            first = last + 1
        return out

    def copy(self) -> LedgerWriter:
        """An independent writer with the same history (the fork point)."""
        twin = LedgerWriter.__new__(LedgerWriter)
        twin.service, twin.cose, twin.txs = self.service, self.cose, list(self.txs)
        twin.tree = MemoryTree((self.tree.node_hash(0, i) for i in range(self.tree.size)), CCF)
        twin.last_sig = self.last_sig
        return twin
