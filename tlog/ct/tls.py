"""A reader and writers for the TLS presentation language (RFC 8446 section 3).

RFC 6962 defines its structures in it: big-endian fixed-width integers and
vectors prefixed with a 1- to 3-byte length. The reader tracks its position so
that every error names the structure and the byte offset where it failed.
"""

from __future__ import annotations

from tlog.ct.errors import CTFormatError


class Reader:
    """Reads fields from data in order; raises CTFormatError naming `what` and the offset."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = memoryview(data)
        self.what = what
        self.pos = 0

    def fail(self, problem: str) -> CTFormatError:
        return CTFormatError(f"{self.what}: {problem} at byte {self.pos}")

    def take(self, n: int, field: str) -> bytes:
        if n > len(self.data) - self.pos:
            raise self.fail(f"{field} needs {n} bytes, {len(self.data) - self.pos} left")
        out = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return out

    def uint(self, size: int, field: str) -> int:
        return int.from_bytes(self.take(size, field), "big")

    def vector(self, length_size: int, field: str, low: int = 0, high: int | None = None) -> bytes:
        """An opaque vector with a length_size-byte length in low..high (default: the max)."""
        start = self.pos
        n = self.uint(length_size, f"length of {field}")
        high = (1 << (8 * length_size)) - 1 if high is None else high
        if not low <= n <= high:
            self.pos = start
            raise self.fail(f"{field} is {n} bytes, want {low}..{high}")
        return self.take(n, field)

    def rest(self) -> bytes:
        out = bytes(self.data[self.pos :])
        self.pos = len(self.data)
        return out

    def done(self) -> None:
        if self.pos != len(self.data):
            raise self.fail(f"{len(self.data) - self.pos} trailing bytes")


def vector(data: bytes, length_size: int, field: str, low: int = 0) -> bytes:
    """data prefixed with its length_size-byte big-endian length."""
    high = (1 << (8 * length_size)) - 1
    if not low <= len(data) <= high:
        raise CTFormatError(f"{field} is {len(data)} bytes, want {low}..{high}")
    return len(data).to_bytes(length_size, "big") + data
