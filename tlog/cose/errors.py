"""Errors of the COSE layer: every one is a TlogError saying what was wrong and where."""

from __future__ import annotations

from tlog.errors import TlogError


class CoseError(TlogError):
    """Base of every COSE decoding or verification failure."""


class MalformedCoseError(CoseError):
    """Bytes that are not valid CBOR, or CBOR that is not the COSE structure expected."""


class CoseSignatureError(CoseError):
    """A COSE signature that does not verify with the key it was checked against."""


class UnsupportedCoseAlgorithmError(CoseError):
    """An algorithm this module does not verify, or a key that does not fit the algorithm."""
