"""MerkleTreeLeaf, TimestampedEntry, extra_data and data tiles: vectors, round trips, fuzz."""

from __future__ import annotations

import contextlib
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.tlog.ct.helpers import precert_entry, x509_entry
from tlog.ct.errors import CTFormatError
from tlog.ct.leaf import (
    PRECERT_ENTRY,
    X509_ENTRY,
    ExtraData,
    TileLeaf,
    TimestampedEntry,
    data_tile_path,
    encode_data_tile,
    encode_extensions,
    encode_extra_data,
    encode_leaf,
    leaf_index,
    parse_data_tile,
    parse_extensions,
    parse_extra_data,
    parse_leaf,
)
from tlog.errors import TlogError

certs = st.binary(min_size=1, max_size=300)
extensions = st.binary(max_size=40)


@st.composite
def timestamped_entries(draw: st.DrawFn) -> TimestampedEntry:
    kind = draw(st.sampled_from([X509_ENTRY, PRECERT_ENTRY]))
    key_hash = draw(st.binary(min_size=32, max_size=32)) if kind == PRECERT_ENTRY else b""
    return TimestampedEntry(
        draw(st.integers(0, (1 << 64) - 1)), kind, draw(certs), key_hash, draw(extensions)
    )


@st.composite
def tile_leaves(draw: st.DrawFn) -> TileLeaf:
    entry = draw(timestamped_entries())
    pre = draw(certs) if entry.is_precert else None
    prints = draw(st.lists(st.binary(min_size=32, max_size=32), max_size=4))
    return TileLeaf(entry, pre, tuple(prints))


def test_leaf_layout_is_rfc6962() -> None:
    entry = TimestampedEntry(0x0102030405060708, X509_ENTRY, b"\xaa\xbb", b"", b"\xcc")
    assert encode_leaf(entry) == bytes.fromhex("000001020304050607080000000002aabb0001cc")
    pre = TimestampedEntry(1, PRECERT_ENTRY, b"\x30", bytes(range(32)))
    raw = encode_leaf(pre)
    assert raw[10:12] == b"\x00\x01" and raw[12:44] == bytes(range(32))
    assert raw[44:] == bytes.fromhex("000001300000")


def test_generated_certificate_leaves_parse() -> None:
    x = x509_entry(1, ["a.test"])
    p = precert_entry(2, ["b.test"])
    assert parse_leaf(x.leaf) == x.tile_leaf.entry
    assert parse_leaf(p.leaf).is_precert
    assert parse_leaf(p.leaf) == p.tile_leaf.entry
    tile = encode_data_tile([x.tile_leaf, p.tile_leaf])
    assert [t.merkle_tree_leaf() for t in parse_data_tile(tile, 2)] == [x.leaf, p.leaf]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x01\x00", "version 1"),
        (b"\x00\x01", "leaf_type 1"),
        (b"\x00\x00" + bytes(8) + b"\x00\x02", "unknown entry_type 2"),
        (b"\x00\x00" + bytes(8) + b"\x00\x00" + b"\x00\x00\x00", "certificate is 0 bytes"),
        (b"\x00\x00" + bytes(8) + b"\x00\x00" + b"\x00\x00\x05ab", "needs 5 bytes"),
        (encode_leaf(TimestampedEntry(1, X509_ENTRY, b"x")) + b"!", "1 trailing bytes"),
    ],
)
def test_bad_leaves_say_what_and_where(data: bytes, message: str) -> None:
    with pytest.raises(CTFormatError, match=message):
        parse_leaf(data)


def test_precert_entries_need_an_issuer_key_hash() -> None:
    with pytest.raises(CTFormatError, match="issuer_key_hash"):
        TimestampedEntry(1, PRECERT_ENTRY, b"x")
    with pytest.raises(CTFormatError, match="issuer_key_hash"):
        TimestampedEntry(1, X509_ENTRY, b"x", bytes(32))


def test_static_ct_leaf_index_extension() -> None:
    ext = encode_extensions({0: (1234567).to_bytes(5, "big")})
    assert ext == bytes.fromhex("000005000012d687")
    assert leaf_index(ext) == 1234567
    assert leaf_index(b"") is None
    with pytest.raises(CTFormatError, match="twice"):
        parse_extensions(ext + ext)
    with pytest.raises(CTFormatError, match="5"):
        leaf_index(encode_extensions({0: b"\x01"}))


def test_data_tile_paths() -> None:
    assert data_tile_path(0) == "tile/data/000"
    assert data_tile_path(1234067, 7) == "tile/data/x001/x234/067.p/7"


def test_data_tile_count_must_match() -> None:
    t = x509_entry(1, ["a.test"]).tile_leaf
    tile = encode_data_tile([t, t])
    with pytest.raises(CTFormatError, match="trailing"):
        parse_data_tile(tile, 1)
    with pytest.raises(CTFormatError, match="entry 2"):
        parse_data_tile(tile, 3)
    with pytest.raises(CTFormatError, match="multiple of 32"):
        parse_data_tile(t.entry.encode() + b"\x00\x05abcde", 1)


@given(timestamped_entries())
def test_leaf_round_trips(entry: TimestampedEntry) -> None:
    assert parse_leaf(encode_leaf(entry)) == entry


@given(st.lists(tile_leaves(), min_size=1, max_size=5))
def test_data_tile_round_trips(leaves: list[TileLeaf]) -> None:
    assert parse_data_tile(encode_data_tile(leaves), len(leaves)) == leaves


@given(st.lists(certs, max_size=4), st.one_of(st.none(), certs))
def test_extra_data_round_trips(chain: list[bytes], pre: bytes | None) -> None:
    extra = ExtraData(tuple(chain), pre)
    kind = X509_ENTRY if pre is None else PRECERT_ENTRY
    assert parse_extra_data(kind, encode_extra_data(extra)) == extra


@given(st.dictionaries(st.integers(0, 255), st.binary(max_size=20), max_size=5))
def test_extensions_round_trip(ext: dict[int, bytes]) -> None:
    assert parse_extensions(encode_extensions(ext)) == ext


@given(st.binary(max_size=400), st.integers(1, 4))
def test_parsers_raise_only_tlog_errors(data: bytes, count: int) -> None:
    for parse in (
        parse_leaf,
        parse_extensions,
        lambda d: parse_extra_data(X509_ENTRY, d),
        lambda d: parse_extra_data(PRECERT_ENTRY, d),
        lambda d: parse_data_tile(d, count),
        leaf_index,
    ):
        with contextlib.suppress(TlogError):
            parse(data)


@given(timestamped_entries(), st.data())
def test_a_damaged_leaf_is_rejected_or_changes(
    entry: TimestampedEntry, data: st.DataObject
) -> None:
    raw = bytearray(encode_leaf(entry))
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    try:
        parsed = parse_leaf(bytes(raw))
    except CTFormatError:
        return
    assert parsed != entry and hashlib.sha256(raw).digest() != b""
