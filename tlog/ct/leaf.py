"""RFC 6962 log entries: MerkleTreeLeaf, TimestampedEntry, extra_data and static-ct data tiles.

    struct { uint8 version = 0; uint8 leaf_type = 0 (timestamped_entry);
             TimestampedEntry timestamped_entry; } MerkleTreeLeaf;
    struct { uint64 timestamp; uint16 entry_type;   /* 0 x509_entry, 1 precert_entry */
             select (entry_type) {
               case x509_entry: opaque ASN.1Cert<1..2^24-1>;
               case precert_entry: opaque issuer_key_hash[32];
                                   opaque TBSCertificate<1..2^24-1>; };
             opaque CtExtensions<0..2^16-1>; } TimestampedEntry;

The tree leaf is the MerkleTreeLeaf's bytes: its RFC 6962 leaf hash is
SHA-256(0x00 || leaf). get-entries returns it as ``leaf_input`` beside
``extra_data`` (the issuer chain; for a precertificate also the submitted
precertificate). static-ct-api data tiles hold TileLeaf structures: the
TimestampedEntry, the precertificate for precert entries, and the SHA-256
fingerprints of the chain, from which the MerkleTreeLeaf is rebuilt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tlog.ct.errors import CTFormatError
from tlog.ct.tls import Reader, vector
from tlog.tiles import TILE_WIDTH, EntriesRef

X509_ENTRY = 0
PRECERT_ENTRY = 1
ENTRY_TYPES = {X509_ENTRY: "x509_entry", PRECERT_ENTRY: "precert_entry"}
MAX_CERT = (1 << 24) - 1
KEY_HASH_SIZE = 32
FINGERPRINT_SIZE = 32
LEAF_INDEX_EXTENSION = 0


@dataclass(frozen=True, slots=True)
class TimestampedEntry:
    """The logged part of a CT entry.

    ``certificate`` is the leaf certificate's DER for an x509 entry and the
    precertificate's TBSCertificate (poison extension removed) for a precert
    entry, whose ``issuer_key_hash`` is the SHA-256 of the issuer's SPKI.
    """

    timestamp: int
    entry_type: int
    certificate: bytes
    issuer_key_hash: bytes = b""
    extensions: bytes = b""

    def __post_init__(self) -> None:
        if self.entry_type not in ENTRY_TYPES:
            raise CTFormatError(f"TimestampedEntry: unknown entry_type {self.entry_type}")
        want = KEY_HASH_SIZE if self.entry_type == PRECERT_ENTRY else 0
        if len(self.issuer_key_hash) != want:
            raise CTFormatError(
                f"TimestampedEntry: issuer_key_hash is {len(self.issuer_key_hash)} bytes "
                f"for a {ENTRY_TYPES[self.entry_type]}, want {want}"
            )

    @property
    def is_precert(self) -> bool:
        return self.entry_type == PRECERT_ENTRY

    def encode(self) -> bytes:
        if not 0 <= self.timestamp < 1 << 64:
            raise CTFormatError(f"TimestampedEntry: timestamp {self.timestamp} is not a uint64")
        return (
            self.timestamp.to_bytes(8, "big")
            + self.entry_type.to_bytes(2, "big")
            + self.issuer_key_hash
            + vector(self.certificate, 3, "certificate", low=1)
            + vector(self.extensions, 2, "extensions")
        )


def read_timestamped_entry(r: Reader) -> TimestampedEntry:
    """Read a TimestampedEntry at r's position."""
    timestamp = r.uint(8, "timestamp")
    entry_type = r.uint(2, "entry_type")
    if entry_type not in ENTRY_TYPES:
        raise r.fail(f"unknown entry_type {entry_type}")
    key_hash = r.take(KEY_HASH_SIZE, "issuer_key_hash") if entry_type == PRECERT_ENTRY else b""
    what = "tbs_certificate" if entry_type == PRECERT_ENTRY else "certificate"
    cert = r.vector(3, what, low=1)
    extensions = r.vector(2, "extensions")
    return TimestampedEntry(timestamp, entry_type, cert, key_hash, extensions)


def encode_leaf(entry: TimestampedEntry) -> bytes:
    """The MerkleTreeLeaf (v1, timestamped_entry) of entry: the bytes the tree hashes."""
    return b"\x00\x00" + entry.encode()


def parse_leaf(data: bytes) -> TimestampedEntry:
    """Parse MerkleTreeLeaf bytes (get-entries leaf_input); CTFormatError naming the field."""
    r = Reader(data, "MerkleTreeLeaf")
    version, leaf_type = r.uint(1, "version"), r.uint(1, "leaf_type")
    if version != 0:
        raise CTFormatError(f"MerkleTreeLeaf: version {version}, want 0 (v1)")
    if leaf_type != 0:
        raise CTFormatError(f"MerkleTreeLeaf: leaf_type {leaf_type}, want 0 (timestamped_entry)")
    entry = read_timestamped_entry(r)
    r.done()
    return entry


def parse_extensions(data: bytes) -> dict[int, bytes]:
    """CtExtensions as static-ct-api defines them: uint8 type, uint16-length data, no repeats."""
    r = Reader(data, "CtExtensions")
    out: dict[int, bytes] = {}
    while r.pos < len(data):
        kind = r.uint(1, "extension_type")
        if kind in out:
            raise r.fail(f"extension {kind} appears twice")
        out[kind] = r.vector(2, "extension_data")
    return out


def encode_extensions(extensions: dict[int, bytes]) -> bytes:
    """CtExtensions bytes for {type: data}, in type order."""
    return b"".join(
        bytes([k]) + vector(v, 2, "extension_data") for k, v in sorted(extensions.items())
    )


def leaf_index(extensions: bytes) -> int | None:
    """The static-ct-api leaf_index extension (uint40), or None when absent."""
    data = parse_extensions(extensions).get(LEAF_INDEX_EXTENSION)
    if data is None:
        return None
    if len(data) != 5:
        raise CTFormatError(f"leaf_index extension is {len(data)} bytes, want 5")
    return int.from_bytes(data, "big")


@dataclass(frozen=True, slots=True)
class ExtraData:
    """get-entries extra_data: the submitted precertificate (precerts only) and the chain."""

    chain: tuple[bytes, ...]
    pre_certificate: bytes | None = None


def _chain(r: Reader, field: str) -> tuple[bytes, ...]:
    body = Reader(r.vector(3, field), field)
    certs = []
    while body.pos < len(body.data):
        certs.append(body.vector(3, f"{field}[{len(certs)}]", low=1))
    return tuple(certs)


def parse_extra_data(entry_type: int, data: bytes) -> ExtraData:
    """extra_data of an entry of entry_type: X509ChainEntry's chain or a PrecertChainEntry."""
    what = "PrecertChainEntry" if entry_type == PRECERT_ENTRY else "certificate_chain"
    r = Reader(data, f"extra_data ({what})")
    if entry_type == PRECERT_ENTRY:
        pre = r.vector(3, "pre_certificate", low=1)
        chain = _chain(r, "precertificate_chain")
        r.done()
        return ExtraData(chain, pre)
    if entry_type != X509_ENTRY:
        raise CTFormatError(f"extra_data: unknown entry_type {entry_type}")
    chain = _chain(r, "certificate_chain")
    r.done()
    return ExtraData(chain)


def encode_extra_data(extra: ExtraData) -> bytes:
    """The extra_data bytes of extra (a precert entry when pre_certificate is set)."""
    chain = b"".join(vector(c, 3, "chain certificate", low=1) for c in extra.chain)
    head = b"" if extra.pre_certificate is None else vector(extra.pre_certificate, 3, "pre", 1)
    return head + vector(chain, 3, "chain")


@dataclass(frozen=True, slots=True)
class TileLeaf:
    """One entry of a static-ct-api data tile."""

    entry: TimestampedEntry
    pre_certificate: bytes | None
    chain_fingerprints: tuple[bytes, ...]

    def merkle_tree_leaf(self) -> bytes:
        """The MerkleTreeLeaf this entry is in the tree as."""
        return encode_leaf(self.entry)

    def encode(self) -> bytes:
        if (self.pre_certificate is not None) != self.entry.is_precert:
            raise CTFormatError("TileLeaf: pre_certificate goes with precert entries only")
        for f in self.chain_fingerprints:
            if len(f) != FINGERPRINT_SIZE:
                raise CTFormatError(f"TileLeaf: fingerprint is {len(f)} bytes, want 32")
        pre = b""
        if self.pre_certificate is not None:
            pre = vector(self.pre_certificate, 3, "pre_certificate", low=1)
        return (
            self.entry.encode()
            + pre
            + vector(b"".join(self.chain_fingerprints), 2, "certificate_chain")
        )


def read_tile_leaf(r: Reader) -> TileLeaf:
    """Read one TileLeaf at r's position."""
    entry = read_timestamped_entry(r)
    pre = r.vector(3, "pre_certificate", low=1) if entry.is_precert else None
    chain = r.vector(2, "certificate_chain")
    if len(chain) % FINGERPRINT_SIZE:
        raise r.fail(f"certificate_chain is {len(chain)} bytes, not a multiple of 32")
    prints = tuple(chain[i : i + FINGERPRINT_SIZE] for i in range(0, len(chain), 32))
    return TileLeaf(entry, pre, prints)


def parse_data_tile(data: bytes, count: int) -> list[TileLeaf]:
    """The TileLeafs of a data tile that must hold exactly count entries."""
    if not 1 <= count <= TILE_WIDTH:
        raise CTFormatError(f"a data tile holds 1 to {TILE_WIDTH} entries, not {count}")
    r = Reader(data, "data tile")
    leaves = []
    for i in range(count):
        r.what = f"data tile entry {i}"
        leaves.append(read_tile_leaf(r))
    r.what = "data tile"
    r.done()
    return leaves


def encode_data_tile(leaves: Sequence[TileLeaf]) -> bytes:
    """A data tile of 1 to 256 TileLeafs."""
    if not 1 <= len(leaves) <= TILE_WIDTH:
        raise CTFormatError(f"a data tile holds 1 to {TILE_WIDTH} entries, got {len(leaves)}")
    return b"".join(leaf.encode() for leaf in leaves)


def data_tile_path(index: int, width: int = TILE_WIDTH) -> str:
    """``tile/data/<N>[.p/<W>]``: the same index encoding as tlog-tiles entry bundles."""
    return "tile/data/" + EntriesRef(index, width).path.removeprefix("tile/entries/")
