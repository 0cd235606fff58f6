"""Errors of SCITT verification; each is a TlogError saying what failed and where.

The CLI maps them to its exit codes in one place: MalformedReceiptError and
KeyUnavailableError mean "could not check" (2), ReceiptProofError and
ReceiptSignatureError mean "checked and wrong" (1).
"""

from __future__ import annotations

from tlog.errors import TlogError


class ScittError(TlogError):
    """Base of every SCITT failure."""


class MalformedReceiptError(ScittError):
    """A receipt, statement or proof that does not follow its CDDL."""


class ReceiptProofError(ScittError):
    """A proof that does not lead where it must (wrong leaf, wrong old root)."""


class ReceiptSignatureError(ScittError):
    """A signature (service or issuer) that does not verify over what it must cover."""


class KeyUnavailableError(ScittError):
    """No trusted key to check a signature with; the message names issuer, kid and service."""


class TrustStoreError(ScittError):
    """A trust store file that does not parse; the message names the file and the entry."""


class MalformedStatementError(ScittError):
    """Bytes that are not a COSE_Sign1 signed statement."""
