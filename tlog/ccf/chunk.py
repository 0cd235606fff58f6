"""CCF ledger chunk files: `ledger_<first>-<last>.committed`.

A committed chunk (CCF `host/ledger.h`) is

    u64      offset of the positions table (0 while the chunk is still being written)
    ...      the transactions, back to back, from offset 8
    u32[]    positions table to the end of the file: the offset of each transaction

little endian. The table must list exactly the transactions, in order, each starting where
the previous one ends; the file name's seqno range must match their count. Parsing here is
structural; tx.parse_transaction reads each transaction's contents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tlog.ccf.errors import MalformedLedgerError
from tlog.ccf.tx import HEADER_SIZE, MAX_TX_SIZE

FILE_HEADER_SIZE = 8
_COMMITTED = re.compile(r"ledger_([1-9][0-9]{0,18})-([1-9][0-9]{0,18})\.committed")


@dataclass(frozen=True, slots=True)
class RawTransaction:
    """One transaction's exact bytes and where they sit in their file."""

    file: str
    offset: int
    raw: bytes


@dataclass(frozen=True, slots=True)
class Chunk:
    """A committed chunk: its name, first and last seqno, and its transactions' bytes."""

    name: str
    first: int
    last: int
    transactions: tuple[RawTransaction, ...]


def committed_range(name: str) -> tuple[int, int]:
    """(first, last) seqno from a committed chunk's file name; MalformedLedgerError otherwise."""
    m = _COMMITTED.fullmatch(name)
    if m is None:
        raise MalformedLedgerError(
            "not a committed ledger chunk name (want ledger_<first>-<last>.committed)", file=name
        )
    first, last = int(m[1]), int(m[2])
    if last < first:
        raise MalformedLedgerError(f"seqno range {first}-{last} is backwards", file=name)
    return first, last


def is_committed_chunk_name(name: str) -> bool:
    """True for names like ledger_1-14.committed."""
    return _COMMITTED.fullmatch(name) is not None


def parse_chunk(data: bytes, name: str) -> Chunk:
    """Split a committed chunk into its transactions, checking the offset table strictly."""
    first, last = committed_range(name)
    size = len(data)
    if size < FILE_HEADER_SIZE:
        raise MalformedLedgerError(f"file is {size} bytes, shorter than its header", file=name)
    table_at = int.from_bytes(data[:FILE_HEADER_SIZE], "little")
    if table_at == 0:
        raise MalformedLedgerError("chunk has no positions table: not committed", file=name)
    if not FILE_HEADER_SIZE <= table_at <= size:
        raise MalformedLedgerError(
            f"positions table offset {table_at} is outside the file ({size} bytes)",
            file=name,
            offset=0,
        )
    if (size - table_at) % 4:
        raise MalformedLedgerError(
            f"positions table of {size - table_at} bytes is not a whole number of u32",
            file=name,
            offset=table_at,
        )
    count = (size - table_at) // 4
    if count != last - first + 1:
        raise MalformedLedgerError(
            f"positions table lists {count} transactions, the name says {last - first + 1}",
            file=name,
            offset=table_at,
        )
    txs: list[RawTransaction] = []
    pos = FILE_HEADER_SIZE
    for i in range(count):
        entry_at = table_at + 4 * i
        listed = int.from_bytes(data[entry_at : entry_at + 4], "little")
        seqno = first + i
        if listed != pos and i == 0:
            raise MalformedLedgerError(
                f"positions table says the first transaction starts at {listed}, not {pos}",
                file=name,
                offset=entry_at,
                seqno=seqno,
            )
        if listed != pos:
            # The previous header's size or this table entry is wrong; name the transaction.
            prev = txs[-1]
            raise MalformedLedgerError(
                f"transaction header size says it ends at {pos}, the positions table says "
                f"the next one starts at {listed}",
                file=name,
                offset=prev.offset,
                seqno=seqno - 1,
            )
        if pos + HEADER_SIZE > table_at:
            raise MalformedLedgerError(
                "transaction header runs into the positions table",
                file=name,
                offset=pos,
                seqno=seqno,
            )
        tx_size = int.from_bytes(data[pos + 2 : pos + HEADER_SIZE], "little")
        end = pos + HEADER_SIZE + tx_size
        if tx_size > MAX_TX_SIZE or end > table_at:
            raise MalformedLedgerError(
                f"transaction of {tx_size} bytes runs past the positions table at {table_at}",
                file=name,
                offset=pos,
                seqno=seqno,
            )
        txs.append(RawTransaction(name, pos, bytes(data[pos:end])))
        pos = end
    if pos != table_at:
        raise MalformedLedgerError(
            f"transaction header size says it ends at {pos}, {table_at - pos} bytes before "
            "the positions table",
            file=name,
            offset=txs[-1].offset if txs else pos,
            seqno=last if txs else None,
        )
    return Chunk(name, first, last, tuple(txs))


def chunk_name(first: int, last: int) -> str:
    """The committed file name for seqnos first..last."""
    return f"ledger_{first}-{last}.committed"


def encode_chunk(transactions: list[bytes]) -> bytes:
    """A committed chunk holding these serialised transactions, in order."""
    body = bytearray()
    positions = bytearray()
    for raw in transactions:
        positions += (FILE_HEADER_SIZE + len(body)).to_bytes(4, "little")
        body += raw
    table_at = FILE_HEADER_SIZE + len(body)
    return table_at.to_bytes(8, "little") + bytes(body) + bytes(positions)
