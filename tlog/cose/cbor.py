"""Strict CBOR decoding for COSE structures. Pure: no I/O.

Every COSE object and every proof nested in one is decoded here and nowhere
else, with the same rules: definite lengths only, no duplicate map keys,
nesting at most MAX_DEPTH deep, nothing after the item, a caller-given bound on
the input size, and no semantic tag interpreted (a tag stays a CBORTag), so that
hostile bytes cannot make the decoder build dates, big numbers, regular
expressions or shared references. Whatever goes wrong surfaces as
MalformedCoseError naming what was being decoded.
"""

from __future__ import annotations

import io
from typing import Any

import cbor2

from tlog.cose.errors import MalformedCoseError

MAX_DEPTH = 16
MAX_SIZE = 1 << 20
"""Default bound on one encoded COSE object (1 MiB); statements carry digests, not files."""

# Every tag cbor2 would otherwise turn into a Python object (dates, bignums,
# decimals, regular expressions, MIME, UUIDs, sets, shared and string references).
_SEMANTIC_TAGS = (0, 1, 2, 3, 4, 5, 25, 28, 29, 30, 35, 36, 37, 52, 54, 100, 256, 258, 260, 261,
                  1004, 43000, 55799)  # fmt: skip
_DECODE_ERRORS = (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError)


def _raw(tag: int) -> Any:
    return lambda value, immutable: cbor2.CBORTag(tag, value)


_RAW_TAGS = {tag: _raw(tag) for tag in _SEMANTIC_TAGS}


def decode(data: bytes, what: str, max_size: int = MAX_SIZE) -> Any:
    """The one CBOR item that spans all of data; MalformedCoseError naming `what` otherwise.

    Under a tag cbor2 returns arrays as tuples and maps as read-only mappings;
    callers accept both list and tuple, any Mapping.
    """
    if not isinstance(data, bytes | bytearray):
        raise MalformedCoseError(f"{what} is a {type(data).__name__}, not bytes")
    if len(data) > max_size:
        raise MalformedCoseError(f"{what} is {len(data)} bytes, more than the {max_size} allowed")
    if not data:
        raise MalformedCoseError(f"{what} is empty")
    stream = io.BytesIO(data)
    try:
        decoder = cbor2.CBORDecoder(
            stream,
            semantic_decoders=_RAW_TAGS,
            allow_indefinite=False,
            allow_duplicate_keys=False,
            max_depth=MAX_DEPTH,
        )
        item = decoder.decode()
    except _DECODE_ERRORS as e:
        raise MalformedCoseError(f"{what} is not valid CBOR: {str(e)[:200]}") from None
    if stream.tell() != len(data):
        extra = len(data) - stream.tell()
        raise MalformedCoseError(f"{what} has {extra} bytes after the CBOR item")
    return item


def encode(item: Any) -> bytes:
    """Preferred (shortest-form) CBOR encoding, as COSE builds Sig_structure."""
    return cbor2.dumps(item)
