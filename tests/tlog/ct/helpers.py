"""Certificates, CT log entries, CT log keys and static-ct-api directories for tests."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tlog.checkpoint import Checkpoint
from tlog.ct.leaf import (
    PRECERT_ENTRY,
    X509_ENTRY,
    TileLeaf,
    TimestampedEntry,
    data_tile_path,
    encode_data_tile,
    encode_leaf,
)
from tlog.ct.sth import CTLogSigner
from tlog.merkle import RFC6962, MemoryTree
from tlog.note import sign_note
from tlog.tiles import TILE_HEIGHT, TILE_WIDTH, tiles_for_size

CA_KEY = ec.derive_private_key(7, ec.SECP256R1())
LEAF_KEY = ec.derive_private_key(11, ec.SECP256R1())
CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
CA_SPKI = CA_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
)
NOT_BEFORE = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def ct_signer(name: str, seed: int = 5) -> CTLogSigner:
    """A deterministic ECDSA P-256 CT log key named name, with a fixed clock."""
    return CTLogSigner(name, ec.derive_private_key(seed, ec.SECP256R1()), lambda: 1_700_000_000_000)


def write_ct_key(path: Path, seed: int = 5) -> None:
    key = ec.derive_private_key(seed, ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)


def _builder(serial: int, cn: str | None, dns: Sequence[str]) -> x509.CertificateBuilder:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(CA_NAME)
        .public_key(LEAF_KEY.public_key())
        .serial_number(serial + 1)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_BEFORE + datetime.timedelta(days=90))
    )
    if dns:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), False)
    return b


@dataclass(frozen=True)
class CTEntry:
    """One logged certificate: its tree leaf and its static-ct-api TileLeaf."""

    leaf: bytes
    tile_leaf: TileLeaf


def certificate(serial: int, dns: Sequence[str], cn: str | None = None) -> bytes:
    """A DER certificate for dns (and subject CN cn), issued by the test CA."""
    cert = _builder(serial, cn, dns).sign(CA_KEY, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.DER)


def x509_entry(serial: int, dns: Sequence[str], cn: str | None = None, ts: int = 1) -> CTEntry:
    der = certificate(serial, dns, cn)
    entry = TimestampedEntry(ts, X509_ENTRY, der)
    return CTEntry(encode_leaf(entry), TileLeaf(entry, None, (hashlib.sha256(b"ca").digest(),)))


def precert_entry(serial: int, dns: Sequence[str], cn: str | None = None, ts: int = 1) -> CTEntry:
    """A precertificate entry: the TBS without the poison extension, as RFC 6962 logs it."""
    plain = _builder(serial, cn, dns).sign(CA_KEY, hashes.SHA256())
    poisoned = (
        _builder(serial, cn, dns)
        .add_extension(x509.PrecertPoison(), critical=True)
        .sign(CA_KEY, hashes.SHA256())
    )
    issuer_key_hash = hashlib.sha256(CA_SPKI).digest()
    entry = TimestampedEntry(ts, PRECERT_ENTRY, plain.tbs_certificate_bytes, issuer_key_hash)
    pre = poisoned.public_bytes(serialization.Encoding.DER)
    return CTEntry(encode_leaf(entry), TileLeaf(entry, pre, ()))


def write_static_ct(directory: Path, signer: CTLogSigner, entries: Sequence[CTEntry]) -> None:
    """Write (or extend) a static-ct-api log of entries: checkpoint, hash tiles, data tiles."""
    size = len(entries)
    tree = MemoryTree(RFC6962.leaf(e.leaf) for e in entries)
    for ref in tiles_for_size(size):
        hashes_ = [
            tree.node_hash(TILE_HEIGHT * ref.level, ref.index * TILE_WIDTH + i)
            for i in range(ref.width)
        ]
        path = directory / ref.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(hashes_))
    for n in range(0, size, TILE_WIDTH):
        chunk = entries[n : n + TILE_WIDTH]
        path = directory / data_tile_path(n // TILE_WIDTH, len(chunk))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode_data_tile([e.tile_leaf for e in chunk]))
    cp = Checkpoint(signer.name, size, tree.root())
    (directory / "checkpoint").write_bytes(sign_note(cp.body(), [signer]).to_bytes())
