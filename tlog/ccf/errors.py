"""Errors of the CCF ledger and receipt code, each naming the file, offset or seqno at fault."""

from __future__ import annotations

from tlog.errors import ProofError, TlogError


class CcfError(TlogError):
    """Base of every CCF ledger or receipt error."""


class MalformedLedgerError(CcfError):
    """Ledger bytes that do not follow CCF's chunk, transaction or public-domain format.

    `where` says which file, offset and (when known) seqno; it is also in the message.
    """

    def __init__(
        self, message: str, *, file: str = "", offset: int | None = None, seqno: int | None = None
    ) -> None:
        self.file = file
        self.offset = offset
        self.seqno = seqno
        super().__init__(f"{_where(file, offset, seqno)}: {message}")


class LedgerVerificationError(CcfError):
    """A well-formed ledger whose history does not verify (root, signature, sequence)."""

    def __init__(self, message: str, *, file: str = "", seqno: int | None = None) -> None:
        self.file = file
        self.seqno = seqno
        super().__init__(f"{_where(file, None, seqno)}: {message}")


class MalformedReceiptError(CcfError):
    """A CCF receipt (JSON or COSE) that does not parse."""


class ReceiptError(CcfError, ProofError):
    """A well-formed CCF receipt whose proof or signature does not verify."""


class NoSignedHeadError(CcfError):
    """A ledger that verifies but carries no signed root a witness can use as a head."""


def _where(file: str, offset: int | None, seqno: int | None) -> str:
    parts = [file or "ledger"]
    if seqno is not None:
        parts.append(f"seqno {seqno}")
    if offset is not None:
        parts.append(f"offset {offset}")
    return ", ".join(parts)
