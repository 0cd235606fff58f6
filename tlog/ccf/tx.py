"""One CCF ledger transaction: headers, public domain, tables and its Merkle leaf.

A serialised transaction (CCF `kv/serialised_entry_format.h`, `kv/generic_serialise_wrapper.h`):

    header   u8 version (1), u8 flags (bit 0 force-chunk-after, bit 1 force-chunk-before),
             u48 size of everything after the header (little endian)
    gcm      16-byte AES-GCM tag, 12-byte IV = u64 seqno || u32 view (top bit masked off)
    u64      public domain size, then the public domain, then the encrypted private domain

The public domain is

    u8 entry type (0 write set, 2 +claims, 3 +commit evidence, 4 +both; 1 is a snapshot)
    i64 seqno, [32-byte claims digest], [32-byte commit evidence digest], i64 max conflict version
    tables to the end: u64-length table name, u64 read version, u64 read count (always 0),
    u64 write count and (u64-length key, u64-length value) pairs, u64 remove count and keys

All integers are little endian. The Merkle leaf of a transaction (CCF's rule, also the
python `ccf.ledger` rule) is, with W = SHA-256(header || rest of the transaction):
W for type 0; SHA-256(W || commit evidence digest) for type 3; SHA-256(W || commit evidence
digest || claims digest) for type 4. Type 2 never shipped in a CCF release and is refused.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from enum import IntEnum

from tlog.ccf.errors import MalformedLedgerError

HEADER_SIZE = 8
GCM_TAG_SIZE = 16
GCM_IV_SIZE = 12
GCM_HEADER_SIZE = GCM_TAG_SIZE + GCM_IV_SIZE
DIGEST_SIZE = 32
ENTRY_VERSION = 1
KNOWN_FLAGS = 0x03
# CCF refuses transactions over 1 GiB (python ccf.ledger); so do we, before allocating.
MAX_TX_SIZE = 1 << 30


class EntryType(IntEnum):
    """The first byte of the public domain."""

    WRITE_SET = 0
    SNAPSHOT = 1
    WRITE_SET_WITH_CLAIMS = 2
    WRITE_SET_WITH_COMMIT_EVIDENCE = 3
    WRITE_SET_WITH_COMMIT_EVIDENCE_AND_CLAIMS = 4

    @property
    def has_claims(self) -> bool:
        return self in (
            EntryType.WRITE_SET_WITH_CLAIMS,
            EntryType.WRITE_SET_WITH_COMMIT_EVIDENCE_AND_CLAIMS,
        )

    @property
    def has_commit_evidence(self) -> bool:
        return self in (
            EntryType.WRITE_SET_WITH_COMMIT_EVIDENCE,
            EntryType.WRITE_SET_WITH_COMMIT_EVIDENCE_AND_CLAIMS,
        )


@dataclass(frozen=True, slots=True)
class Table:
    """The writes and removals one transaction makes to one table, in ledger order."""

    name: str
    read_version: int
    writes: tuple[tuple[bytes, bytes], ...]
    removes: tuple[bytes, ...] = ()

    def get(self, key: bytes) -> bytes | None:
        """The value written under key in this transaction, or None."""
        for k, v in self.writes:
            if k == key:
                return v
        return None


@dataclass(frozen=True, slots=True)
class PublicDomain:
    """The public (unencrypted) part of a transaction."""

    entry_type: EntryType
    seqno: int
    claims_digest: bytes | None
    commit_evidence_digest: bytes | None
    max_conflict_version: int
    tables: tuple[Table, ...]

    def table(self, name: str) -> Table | None:
        """The table called name, or None when the transaction does not touch it."""
        for t in self.tables:
            if t.name == name:
                return t
        return None


@dataclass(frozen=True, slots=True)
class Transaction:
    """A parsed transaction; `raw` is its exact bytes from the header on."""

    version: int
    flags: int
    seqno: int
    view: int
    gcm_tag: bytes
    view_word: int
    public: PublicDomain
    private: bytes
    raw: bytes

    @property
    def txid(self) -> str:
        """CCF's transaction ID, "view.seqno"."""
        return f"{self.view}.{self.seqno}"

    def write_set_digest(self) -> bytes:
        """SHA-256 of the whole serialised transaction, header included."""
        return hashlib.sha256(self.raw).digest()

    def leaf(self) -> bytes:
        """This transaction's leaf in the ledger's Merkle tree (module doc)."""
        return leaf_from_components(
            self.write_set_digest(), self.public.commit_evidence_digest, self.public.claims_digest
        )


def leaf_from_components(
    write_set_digest: bytes, commit_evidence_digest: bytes | None, claims_digest: bytes | None
) -> bytes:
    """CCF's leaf rule from its parts (see the module doc); None for a part the entry lacks."""
    if commit_evidence_digest is None:
        if claims_digest is not None:
            raise MalformedLedgerError("a leaf with claims but no commit evidence has no CCF rule")
        return write_set_digest
    tail = commit_evidence_digest + (claims_digest or b"")
    return hashlib.sha256(write_set_digest + tail).digest()


class _Reader:
    """Bounded little-endian reads; every failure names the file, absolute offset and seqno."""

    def __init__(self, data: bytes, base: int, file: str, seqno: int | None) -> None:
        self.data = data
        self.pos = 0
        self.base = base
        self.file = file
        self.seqno = seqno

    def fail(self, message: str, at: int | None = None) -> MalformedLedgerError:
        pos = self.pos if at is None else at
        return MalformedLedgerError(
            message, file=self.file, offset=self.base + pos, seqno=self.seqno
        )

    def take(self, n: int, what: str) -> bytes:
        if n > len(self.data) - self.pos:
            raise self.fail(f"{what} needs {n} bytes, {len(self.data) - self.pos} left")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u64(self, what: str) -> int:
        return int.from_bytes(self.take(8, what), "little")

    def i64(self, what: str) -> int:
        return int.from_bytes(self.take(8, what), "little", signed=True)

    def blob(self, what: str) -> bytes:
        at = self.pos
        n = self.u64(f"{what} length")
        if n > len(self.data) - self.pos:
            raise self.fail(f"{what} length {n} runs past the public domain", at)
        return self.take(n, what)

    def count(self, what: str, min_item: int) -> int:
        at = self.pos
        n = self.u64(what)
        if n * min_item > len(self.data) - self.pos:
            raise self.fail(
                f"{what} {n} cannot fit in the {len(self.data) - self.pos} bytes left", at
            )
        return n

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


def parse_public_domain(
    data: bytes, *, file: str = "", offset: int = 0, seqno: int | None = None
) -> PublicDomain:
    """Parse a public domain; offset is where it starts in file, for error messages."""
    r = _Reader(data, offset, file, seqno)
    raw_type = r.take(1, "entry type")[0]
    try:
        entry_type = EntryType(raw_type)
    except ValueError:
        raise r.fail(f"unknown entry type {raw_type}", 0) from None
    if entry_type is EntryType.SNAPSHOT:
        raise r.fail("a snapshot entry cannot appear in a ledger chunk", 0)
    if entry_type is EntryType.WRITE_SET_WITH_CLAIMS:
        raise r.fail("entry type 2 (claims without commit evidence) has no CCF leaf rule", 0)
    pd_seqno = r.i64("seqno")
    claims = r.take(DIGEST_SIZE, "claims digest") if entry_type.has_claims else None
    evidence = (
        r.take(DIGEST_SIZE, "commit evidence digest") if entry_type.has_commit_evidence else None
    )
    max_conflict = r.i64("max conflict version")
    tables: list[Table] = []
    names: set[str] = set()
    while r.left:
        at = r.pos
        raw_name = r.blob("table name")
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            raise r.fail("table name is not UTF-8", at) from None
        if name in names:
            raise r.fail(f"table {name!r} appears twice", at)
        names.add(name)
        read_version = r.u64(f"table {name!r} read version")
        at = r.pos
        if r.u64(f"table {name!r} read count"):
            raise r.fail(f"table {name!r} has reads; ledger transactions carry none", at)
        writes = []
        keys: set[bytes] = set()
        for _ in range(r.count(f"table {name!r} write count", 16)):
            at = r.pos
            k = r.blob(f"table {name!r} key")
            if k in keys:
                raise r.fail(f"table {name!r} writes key {k.hex()} twice", at)
            keys.add(k)
            writes.append((k, r.blob(f"table {name!r} value")))
        removes = []
        for _ in range(r.count(f"table {name!r} remove count", 8)):
            at = r.pos
            k = r.blob(f"table {name!r} removed key")
            if k in keys:
                raise r.fail(f"table {name!r} writes and removes key {k.hex()}", at)
            keys.add(k)
            removes.append(k)
        tables.append(Table(name, read_version, tuple(writes), tuple(removes)))
    return PublicDomain(entry_type, pd_seqno, claims, evidence, max_conflict, tuple(tables))


def parse_transaction(
    raw: bytes, *, file: str = "", offset: int = 0, seqno: int | None = None
) -> Transaction:
    """Parse one transaction whose exact bytes (header first) are raw, found at offset in file.

    seqno, when given, is where the transaction sits in its chunk: errors name it, and the
    transaction's own seqno must equal it.
    """
    r = _Reader(raw, offset, file, seqno)
    version, flags = r.take(1, "header version")[0], r.take(1, "header flags")[0]
    size = int.from_bytes(r.take(6, "header size"), "little")
    if version != ENTRY_VERSION:
        raise r.fail(f"transaction header version {version}, want {ENTRY_VERSION}", 0)
    if flags & ~KNOWN_FLAGS:
        raise r.fail(f"transaction header has unknown flags 0x{flags:02x}", 1)
    if size != len(raw) - HEADER_SIZE:
        raise r.fail(f"transaction header says {size} bytes follow, {len(raw) - HEADER_SIZE} do", 2)
    tag = r.take(GCM_TAG_SIZE, "GCM tag")
    at = r.pos
    iv_seqno = r.u64("GCM IV seqno")
    if seqno is not None and iv_seqno != seqno:
        raise r.fail(f"GCM header says seqno {iv_seqno}, the chunk position says {seqno}", at)
    seqno = r.seqno = iv_seqno
    view_word = int.from_bytes(r.take(4, "GCM IV view"), "little")
    at = r.pos
    pd_size = r.u64("public domain size")
    if pd_size > r.left:
        raise r.fail(f"public domain size {pd_size} exceeds the {r.left} bytes left", at)
    pd_at = r.pos
    pd = parse_public_domain(
        r.take(pd_size, "public domain"), file=file, offset=offset + pd_at, seqno=seqno
    )
    if pd.seqno != seqno:
        raise r.fail(f"public domain seqno {pd.seqno} differs from the GCM header's {seqno}", pd_at)
    private = r.take(r.left, "private domain")
    return Transaction(
        version, flags, seqno, view_word & 0x7FFFFFFF, tag, view_word, pd, private, bytes(raw)
    )


def encode_public_domain(pd: PublicDomain) -> bytes:
    """The serialisation parse_public_domain reads."""
    out = bytearray([pd.entry_type])
    out += struct.pack("<q", pd.seqno)
    if pd.entry_type.has_claims:
        out += pd.claims_digest or b""
    if pd.entry_type.has_commit_evidence:
        out += pd.commit_evidence_digest or b""
    out += struct.pack("<q", pd.max_conflict_version)
    for t in pd.tables:
        name = t.name.encode("utf-8")
        out += struct.pack("<Q", len(name)) + name
        out += struct.pack("<QQQ", t.read_version, 0, len(t.writes))
        for k, v in t.writes:
            out += struct.pack("<Q", len(k)) + k + struct.pack("<Q", len(v)) + v
        out += struct.pack("<Q", len(t.removes))
        for k in t.removes:
            out += struct.pack("<Q", len(k)) + k
    return bytes(out)


def encode_transaction(
    seqno: int,
    view: int,
    public: PublicDomain,
    *,
    private: bytes = b"",
    flags: int = 0,
    gcm_tag: bytes = bytes(GCM_TAG_SIZE),
) -> bytes:
    """Serialise a transaction (tests and the reference ledger writer use this)."""
    pd = encode_public_domain(public)
    body = gcm_tag + struct.pack("<QI", seqno, view) + struct.pack("<Q", len(pd)) + pd + private
    return bytes([ENTRY_VERSION, flags]) + len(body).to_bytes(6, "little") + body
