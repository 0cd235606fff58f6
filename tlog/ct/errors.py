"""Errors of the CT formats: each says which structure was wrong and at which byte."""

from tlog.errors import TlogError


class CTFormatError(TlogError):
    """Bytes or JSON that are not the RFC 6962 / static-ct-api structure expected."""


class DERError(CTFormatError):
    """A certificate or TBSCertificate that is not the strict DER a monitor can read."""
