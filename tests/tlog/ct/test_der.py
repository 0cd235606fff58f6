"""The strict DER walk: names from certificates and precert TBSCertificates."""

from __future__ import annotations

import contextlib

import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from tests.tlog.ct.helpers import certificate, precert_entry
from tlog.ct.der import CertNames, certificate_names, certificate_tbs, read_tlv, tbs_names
from tlog.ct.errors import DERError
from tlog.ct.leaf import parse_leaf


def test_names_of_a_certificate_match_what_cryptography_reads() -> None:
    der = certificate(1, ["www.example.com", "*.Example.com"], cn="www.example.com")
    names = certificate_names(der)
    cert = x509.load_der_x509_certificate(der)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert list(names.dns_names) == san.get_values_for_type(x509.DNSName)
    assert names.common_names == ("www.example.com",)
    assert names.all() == ("www.example.com", "*.example.com")
    assert certificate_tbs(der) == cert.tbs_certificate_bytes


def test_names_of_a_precert_tbs() -> None:
    entry = parse_leaf(precert_entry(2, ["a.test", "b.test"], cn="a.test").leaf)
    assert tbs_names(entry.certificate) == CertNames(("a.test",), ("a.test", "b.test"))


def test_a_certificate_without_names() -> None:
    assert certificate_names(certificate(3, [])) == CertNames((), ())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x30\x80\x00\x00", "indefinite"),
        (b"\x30\x81\x05" + bytes(5), "minimally"),
        (b"\x30\x82\x00\x85" + bytes(0x85), "minimally"),
        (b"\x1f\x01\x00", "high tag"),
        (b"\x30\x05\x00", "runs past"),
        (b"\x30\x00\x00", "trailing"),
        (b"\x31\x00", "want 0x30"),
    ],
)
def test_non_der_is_rejected(data: bytes, message: str) -> None:
    with pytest.raises(DERError, match=message):
        tbs_names(data)


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + body


def test_duplicate_san_extension_is_rejected() -> None:
    tbs = certificate_tbs(certificate(4, ["x.test"]))
    top = read_tlv(tbs, 0, len(tbs), "tbs")
    fields, pos = [], top.start
    while pos < top.end:
        fields.append(read_tlv(tbs, pos, top.end, "field"))
        pos = fields[-1].next
    exts = fields[-1]
    assert exts.tag == 0xA3
    seq = read_tlv(tbs, exts.start, exts.end, "extensions")
    items, pos = [], seq.start
    while pos < seq.end:
        t = read_tlv(tbs, pos, seq.end, "extension")
        items.append(tbs[pos : t.next])
        pos = t.next
    (san,) = [e for e in items if bytes.fromhex("0603551d11") in e]
    doubled = _tlv(0xA3, _tlv(0x30, b"".join(items) + san))
    rebuilt = _tlv(0x30, tbs[top.start : exts.offset] + doubled)
    with pytest.raises(DERError, match="twice"):
        tbs_names(rebuilt)
    # The same rebuild without the duplicate parses: the rebuild itself is sound.
    single = _tlv(0xA3, _tlv(0x30, b"".join(items)))
    ok = _tlv(0x30, tbs[top.start : exts.offset] + single)
    assert tbs_names(ok).dns_names == ("x.test",)


@given(st.binary(max_size=300))
def test_random_bytes_raise_only_der_errors(data: bytes) -> None:
    with contextlib.suppress(DERError):
        tbs_names(data)
    with contextlib.suppress(DERError):
        certificate_names(data)


CERT = certificate(5, ["fuzz.test", "*.fuzz.test"], cn="fuzz.test")


@given(st.integers(0, len(CERT) - 1), st.integers(1, 255))
def test_damaged_certificates_raise_only_der_errors(i: int, flip: int) -> None:
    raw = bytearray(CERT)
    raw[i] ^= flip
    with contextlib.suppress(DERError):
        certificate_names(bytes(raw))
