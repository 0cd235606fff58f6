"""A minimal strict DER reader for the names in a certificate or a precert TBSCertificate.

A CT monitor needs only the subject's common names and the subjectAltName
dNSNames. A precert entry logs a bare TBSCertificate, which general X.509
libraries do not load, so this walks the structure itself (RFC 5280 4.1):

    TBSCertificate ::= SEQUENCE { [0] EXPLICIT version OPTIONAL, serialNumber,
        signature, issuer, validity, subject Name, subjectPublicKeyInfo,
        [1] issuerUniqueID OPTIONAL, [2] subjectUniqueID OPTIONAL,
        [3] EXPLICIT Extensions OPTIONAL }

Only definite, minimally encoded lengths and low tag numbers are accepted;
fields it does not read are skipped as whole TLVs, so their content may be
anything. Every failure is a DERError naming the field and the byte offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from tlog.ct.errors import DERError

SEQUENCE = 0x30
SET = 0x31
OID = 0x06
BOOLEAN = 0x01
OCTET_STRING = 0x04
INTEGER = 0x02
CN_OID = bytes.fromhex("550403")
SAN_OID = bytes.fromhex("551d11")
DNS_NAME = 0x82
MAX_LENGTH_BYTES = 4
_STRINGS = {
    0x0C: "utf-8",  # UTF8String
    0x13: "ascii",  # PrintableString
    0x16: "ascii",  # IA5String
    0x14: "latin-1",  # TeletexString (T.61; read as Latin-1 like most tools)
    0x1E: "utf-16-be",  # BMPString
    0x1C: "utf-32-be",  # UniversalString
}


class TLV(NamedTuple):
    """One DER element: tag byte, where it begins, and where its content lies.

    A NamedTuple: a certificate walk builds dozens of these, and frozen
    dataclasses cost several times more to construct.
    """

    tag: int
    offset: int
    start: int
    end: int

    @property
    def next(self) -> int:
        """The offset just past the element."""
        return self.end


def read_tlv(data: bytes, pos: int, end: int, what: str) -> TLV:
    """The element at pos, which must end by end."""
    if pos + 2 > end:
        raise DERError(f"{what}: truncated element at byte {pos}")
    offset, tag = pos, data[pos]
    if tag & 0x1F == 0x1F:
        raise DERError(f"{what}: high tag number form at byte {pos}")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DERError(f"{what}: indefinite length at byte {pos - 1}")
    else:
        n = first & 0x7F
        if n > MAX_LENGTH_BYTES or pos + n > end:
            raise DERError(f"{what}: bad length of length ({n}) at byte {pos - 1}")
        raw = data[pos : pos + n]
        length = int.from_bytes(raw, "big")
        if raw[0] == 0 or length < 0x80:
            raise DERError(f"{what}: length not minimally encoded at byte {pos - 1}")
        pos += n
    if pos + length > end:
        raise DERError(f"{what}: element of {length} bytes at byte {pos} runs past {end}")
    return TLV(tag, offset, pos, pos + length)


def _expect(data: bytes, pos: int, end: int, tag: int, what: str) -> TLV:
    tlv = read_tlv(data, pos, end, what)
    if tlv.tag != tag:
        raise DERError(f"{what}: tag 0x{tlv.tag:02x} at byte {pos}, want 0x{tag:02x}")
    return tlv


def _children(data: bytes, outer: TLV, what: str) -> list[TLV]:
    out, pos = [], outer.start
    while pos < outer.end:
        tlv = read_tlv(data, pos, outer.end, what)
        out.append(tlv)
        pos = tlv.next
    return out


def _string(data: bytes, tlv: TLV, what: str) -> str:
    encoding = _STRINGS.get(tlv.tag)
    if encoding is None:
        raise DERError(f"{what}: tag 0x{tlv.tag:02x} at byte {tlv.start} is not a string type")
    try:
        return data[tlv.start : tlv.end].decode(encoding)
    except UnicodeDecodeError:
        raise DERError(f"{what}: not valid {encoding} at byte {tlv.start}") from None


@dataclass(frozen=True, slots=True)
class CertNames:
    """The names a certificate is for: subject common names and SAN dNSNames, as logged."""

    common_names: tuple[str, ...]
    dns_names: tuple[str, ...]

    def all(self) -> tuple[str, ...]:
        """Every distinct name, dNSNames first, lower-cased."""
        seen: dict[str, None] = {}
        for name in (*self.dns_names, *self.common_names):
            seen.setdefault(name.lower(), None)
        return tuple(seen)


def _common_names(data: bytes, subject: TLV) -> list[str]:
    out = []
    for rdn in _children(data, subject, "subject"):
        if rdn.tag != SET:
            raise DERError(f"subject: RDN at byte {rdn.start} is not a SET")
        for atv in _children(data, rdn, "subject attribute"):
            if atv.tag != SEQUENCE:
                raise DERError(f"subject: attribute at byte {atv.start} is not a SEQUENCE")
            oid = _expect(data, atv.start, atv.end, OID, "subject attribute type")
            value = read_tlv(data, oid.next, atv.end, "subject attribute value")
            if value.next != atv.end:
                raise DERError(f"subject: attribute at byte {atv.start} has trailing data")
            if data[oid.start : oid.end] == CN_OID:
                out.append(_string(data, value, "subject commonName"))
    return out


def _dns_names(data: bytes, extensions: TLV) -> list[str]:
    seq = _expect(data, extensions.start, extensions.end, SEQUENCE, "extensions")
    if seq.next != extensions.end:
        raise DERError(f"extensions: trailing data at byte {seq.next}")
    names: list[str] | None = None
    for ext in _children(data, seq, "extension"):
        if ext.tag != SEQUENCE:
            raise DERError(f"extension at byte {ext.start} is not a SEQUENCE")
        oid = _expect(data, ext.start, ext.end, OID, "extension id")
        value = read_tlv(data, oid.next, ext.end, "extension")
        if value.tag == BOOLEAN:
            value = read_tlv(data, value.next, ext.end, "extension value")
        if value.tag != OCTET_STRING or value.next != ext.end:
            raise DERError(f"extension at byte {ext.start}: want an OCTET STRING value last")
        if data[oid.start : oid.end] != SAN_OID:
            continue
        if names is not None:
            raise DERError(f"subjectAltName appears twice (byte {ext.start})")
        general = _expect(data, value.start, value.end, SEQUENCE, "subjectAltName")
        if general.next != value.end:
            raise DERError(f"subjectAltName: trailing data at byte {general.next}")
        names = []
        for gn in _children(data, general, "GeneralName"):
            if gn.tag == DNS_NAME:
                try:
                    names.append(data[gn.start : gn.end].decode("ascii"))
                except UnicodeDecodeError:
                    raise DERError(f"dNSName at byte {gn.start} is not IA5 (ASCII)") from None
    return names or []


def tbs_names(tbs: bytes) -> CertNames:
    """The names in a DER TBSCertificate (a precert entry's tbs_certificate)."""
    data = bytes(tbs)
    top = _expect(data, 0, len(data), SEQUENCE, "TBSCertificate")
    if top.next != len(data):
        raise DERError(f"TBSCertificate: {len(data) - top.next} trailing bytes")
    fields = _children(data, top, "TBSCertificate field")
    if fields and fields[0].tag == 0xA0:
        fields = fields[1:]
    want = [INTEGER, SEQUENCE, SEQUENCE, SEQUENCE, SEQUENCE, SEQUENCE]
    labels = ["serialNumber", "signature", "issuer", "validity", "subject", "subjectPublicKeyInfo"]
    if len(fields) < len(want):
        raise DERError(f"TBSCertificate has {len(fields)} fields after the version, want 6+")
    for tlv, tag, label in zip(fields, want, labels, strict=False):
        if tlv.tag != tag:
            raise DERError(f"TBSCertificate {label}: tag 0x{tlv.tag:02x} at byte {tlv.start}")
    optional = fields[6:]
    tags = [t.tag for t in optional]
    if tags not in ([], [0xA3], [0x81], [0x82], [0x81, 0x82], [0x81, 0xA3], [0x82, 0xA3],
                    [0x81, 0x82, 0xA3]):  # fmt: skip
        raise DERError(f"TBSCertificate: unexpected trailing fields {[hex(t) for t in tags]}")
    dns: list[str] = []
    if tags and tags[-1] == 0xA3:
        dns = _dns_names(data, optional[-1])
    return CertNames(tuple(_common_names(data, fields[4])), tuple(dns))


def certificate_tbs(cert: bytes) -> bytes:
    """The TBSCertificate DER inside a DER Certificate (its first element)."""
    data = bytes(cert)
    top = _expect(data, 0, len(data), SEQUENCE, "Certificate")
    if top.next != len(data):
        raise DERError(f"Certificate: {len(data) - top.next} trailing bytes")
    tbs = _expect(data, top.start, top.end, SEQUENCE, "Certificate tbsCertificate")
    return data[top.start : tbs.next]


def certificate_names(cert: bytes) -> CertNames:
    """The names in a DER Certificate (an x509 entry's certificate)."""
    return tbs_names(certificate_tbs(cert))
