"""The batch journal: every file one sequencing step publishes, in one durable record.

The sequencer writes the journal (atomically, fsynced) before it touches any
published file, applies it, and deletes it. After a crash a journal that is
still there is applied again, so a tile or bundle, once written, never changes
content: a static server that served it never served something the log later
contradicts.

Encoding: the line ``reflog-batch/v1``, the line ``<old size> <new size>``,
then per file a big-endian uint16 path length, the UTF-8 path, a big-endian
uint32 data length and the data; finally SHA-256 of all the preceding bytes.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tlog.reflog.edge import Files
from tlog.reflog.errors import LogStateError

MAGIC = b"reflog-batch/v1\n"


@dataclass(frozen=True)
class Batch:
    """The files that take a log from old_size to new_size, in the order to write them."""

    old_size: int
    new_size: int
    files: Files


def encode_batch(batch: Batch) -> bytes:
    out = bytearray(MAGIC)
    out += f"{batch.old_size} {batch.new_size}\n".encode("ascii")
    for path, data in batch.files:
        raw = path.encode("utf-8")
        out += len(raw).to_bytes(2, "big") + raw + len(data).to_bytes(4, "big") + data
    out += hashlib.sha256(out).digest()
    return bytes(out)


def decode_batch(data: bytes) -> Batch:
    """Parse a journal; raise LogStateError if it is damaged."""
    body, digest = data[:-32], data[-32:]
    if not data.startswith(MAGIC) or hashlib.sha256(body).digest() != digest:
        raise LogStateError("journal is damaged: wrong header or checksum")
    header_end = body.find(b"\n", len(MAGIC))
    try:
        old, new = (int(x) for x in body[len(MAGIC) : header_end].split(b" "))
    except ValueError:
        raise LogStateError("journal is damaged: bad size line") from None
    files: Files = []
    offset = header_end + 1
    while offset < len(body):
        path_len = int.from_bytes(body[offset : offset + 2], "big")
        path = body[offset + 2 : offset + 2 + path_len].decode("utf-8")
        offset += 2 + path_len
        data_len = int.from_bytes(body[offset : offset + 4], "big")
        files.append((path, body[offset + 4 : offset + 4 + data_len]))
        offset += 4 + data_len
    if offset != len(body):
        raise LogStateError("journal is damaged: a record runs past the end")
    return Batch(old, new, files)
