"""Chunk and transaction parsing: round trips, strictness, typed errors only."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tlog.ccf.vectors import chunk_files
from tlog.ccf import signatures as sigs
from tlog.ccf.chunk import chunk_name, committed_range, encode_chunk, parse_chunk
from tlog.ccf.errors import CcfError, MalformedLedgerError
from tlog.ccf.tx import (
    EntryType,
    PublicDomain,
    Table,
    encode_public_domain,
    encode_transaction,
    leaf_from_components,
    parse_public_domain,
    parse_transaction,
)
from tlog.ccf.verify import verify_chunks

digests = st.binary(min_size=32, max_size=32)
entry_types = st.sampled_from(
    [
        EntryType.WRITE_SET,
        EntryType.WRITE_SET_WITH_COMMIT_EVIDENCE,
        EntryType.WRITE_SET_WITH_COMMIT_EVIDENCE_AND_CLAIMS,
    ]
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[Table, ...]:
    names = draw(st.lists(st.text(max_size=12), unique=True, max_size=4))
    out = []
    for name in names:
        keys = draw(st.lists(st.binary(max_size=8), unique=True, max_size=4))
        split = draw(st.integers(0, len(keys)))
        writes = tuple((k, draw(st.binary(max_size=16))) for k in keys[:split])
        out.append(Table(name, draw(st.integers(0, 2**64 - 1)), writes, tuple(keys[split:])))
    return tuple(out)


@st.composite
def public_domains(draw: st.DrawFn, seqno: int | None = None) -> PublicDomain:
    et = draw(entry_types)
    return PublicDomain(
        entry_type=et,
        seqno=draw(st.integers(1, 2**63 - 1)) if seqno is None else seqno,
        claims_digest=draw(digests) if et.has_claims else None,
        commit_evidence_digest=draw(digests) if et.has_commit_evidence else None,
        max_conflict_version=draw(st.integers(-(2**63), 2**63 - 1)),
        tables=draw(tables()),
    )


@given(public_domains())
def test_public_domain_round_trip(pd: PublicDomain) -> None:
    assert parse_public_domain(encode_public_domain(pd)) == pd


@given(public_domains(), st.integers(0, 2**31 - 1), st.binary(max_size=32), st.integers(0, 3))
def test_transaction_round_trip(pd: PublicDomain, view: int, private: bytes, flags: int) -> None:
    raw = encode_transaction(pd.seqno, view, pd, private=private, flags=flags)
    tx = parse_transaction(raw, seqno=pd.seqno)
    assert (tx.public, tx.view, tx.private, tx.flags, tx.raw) == (pd, view, private, flags, raw)


def test_real_transactions_round_trip() -> None:
    for name, data in chunk_files("cts-canary") + chunk_files("sgx-service"):
        for rt in parse_chunk(data, name).transactions:
            tx = parse_transaction(rt.raw, file=name, offset=rt.offset)
            again = encode_transaction(
                tx.seqno,
                tx.view_word,
                tx.public,
                private=tx.private,
                flags=tx.flags,
                gcm_tag=tx.gcm_tag,
            )
            assert again == rt.raw


@given(st.lists(st.binary(min_size=1, max_size=40), max_size=6), st.integers(1, 1000))
def test_chunk_round_trip(bodies: list[bytes], first: int) -> None:
    raws = [bytes([1, 0]) + len(b).to_bytes(6, "little") + b for b in bodies]
    if not raws:
        return
    chunk = parse_chunk(encode_chunk(raws), chunk_name(first, first + len(raws) - 1))
    assert [t.raw for t in chunk.transactions] == raws
    assert (chunk.first, chunk.last) == (first, first + len(raws) - 1)


def _small_tx() -> bytes:
    pd = PublicDomain(
        EntryType.WRITE_SET_WITH_COMMIT_EVIDENCE,
        3,
        None,
        bytes(32),
        0,
        (Table("public:t", 0, ((b"k", b"v"),), (b"r",)),),
    )
    return encode_transaction(3, 2, pd)


@settings(max_examples=300)
@given(st.data())
def test_mutated_transactions_raise_only_typed_errors(data: st.DataObject) -> None:
    raw = bytearray(_small_tx())
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        i = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "cut":
            del raw[i:]
        else:
            raw[i:i] = data.draw(st.binary(min_size=1, max_size=9))
    try:
        parse_transaction(bytes(raw), file="f", offset=8, seqno=3)
    except MalformedLedgerError as e:
        assert str(e).startswith("f, seqno 3")


@given(st.binary(max_size=300))
def test_random_bytes_raise_only_typed_errors(blob: bytes) -> None:
    for parse in (
        lambda: parse_transaction(blob),
        lambda: parse_public_domain(blob),
        lambda: parse_chunk(blob, "ledger_1-3.committed"),
        lambda: verify_chunks([("ledger_1-2.committed", blob)]),
    ):
        with contextlib.suppress(CcfError):
            parse()


@given(st.binary(max_size=200))
def test_signature_rows_raise_only_format_errors(blob: bytes) -> None:
    for parse in (
        sigs.parse_node_signature,
        sigs.parse_cose_signature_row,
        sigs.parse_tree_table,
        sigs.decode_cose_root_signature,
    ):
        with contextlib.suppress(sigs.SignatureFormatError):
            parse(blob)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_real_chunk_only_typed_errors(data: st.DataObject) -> None:
    name, chunk = chunk_files("expired-service")[0]
    raw = bytearray(chunk)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    with contextlib.suppress(CcfError):
        verify_chunks([(name, bytes(raw))])


@pytest.mark.parametrize(
    "name",
    [
        "ledger_1-3",
        "ledger_0-3.committed",
        "ledger_5-3.committed",
        "ledger_01-3.committed",
        "x/ledger_1-3.committed",
        "ledger_1-3.committed.ignored",
    ],
)
def test_bad_chunk_names(name: str) -> None:
    with pytest.raises(MalformedLedgerError, match=r"chunk name|backwards"):
        committed_range(name)


def test_strict_structure_errors_name_where() -> None:
    raw = _small_tx()
    chunk = encode_chunk([raw, raw])
    with pytest.raises(MalformedLedgerError, match="lists 2 transactions, the name says 3"):
        parse_chunk(chunk, "ledger_1-3.committed")
    with pytest.raises(MalformedLedgerError, match="not committed"):
        parse_chunk(bytes(8) + raw, "ledger_1-1.committed")
    with pytest.raises(MalformedLedgerError, match=r"seqno 4.*GCM header says seqno 3, the chunk"):
        parse_transaction(raw, seqno=4)
    bad = bytearray(raw)
    bad[1] = 0x80
    with pytest.raises(MalformedLedgerError, match="unknown flags 0x80"):
        parse_transaction(bytes(bad))
    with pytest.raises(MalformedLedgerError, match="snapshot"):
        parse_public_domain(bytes([1]) + bytes(16))
    with pytest.raises(MalformedLedgerError, match="seqno 9, offset 0: entry type 2"):
        parse_public_domain(bytes([2]) + bytes(80), seqno=9)


def test_leaf_rule() -> None:
    w, e, c = bytes([1]) * 32, bytes([2]) * 32, bytes([3]) * 32
    import hashlib

    assert leaf_from_components(w, None, None) == w
    assert leaf_from_components(w, e, None) == hashlib.sha256(w + e).digest()
    assert leaf_from_components(w, e, c) == hashlib.sha256(w + e + c).digest()
    with pytest.raises(MalformedLedgerError):
        leaf_from_components(w, None, c)
