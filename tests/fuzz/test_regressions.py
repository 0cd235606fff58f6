"""Inputs the fuzzer found that crashed a parser, kept as regression tests.

Each crash input also sits in the checked-in corpus as fuzz/corpus/<target>/crash-<sha1>
(libFuzzer's name for it), so every fuzz run starts from it again.
"""

from __future__ import annotations

import base64
from pathlib import Path

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from fuzz.run import CORPUS
from fuzz.targets import TARGETS, run_one
from tests.vectors import VECTORS_DIR
from tlog.ccf.errors import CcfError
from tlog.ccf.signatures import load_cert
from tlog.cose.errors import MalformedCoseError
from tlog.cose.headers import X5CHAIN, x5chain
from tlog.cose.keys import load_certificate
from tlog.scitt.errors import MalformedReceiptError as ScittMalformedReceiptError
from tlog.scitt.errors import TrustStoreError
from tlog.scitt.receipt import parse_receipt
from tlog.scitt.statement import decode_statement

CRASHES = sorted(CORPUS.glob("*/crash-*"))


@pytest.mark.parametrize("path", CRASHES, ids=lambda p: f"{p.parent.name}/{p.name[:14]}")
def test_former_crashes_are_typed_errors_or_accepted(path: Path) -> None:
    run_one(TARGETS[path.parent.name], path.read_bytes())


def real_certificate() -> bytes:
    folder = VECTORS_DIR / "scitt-esrp-cts-transparent-statement"
    statement = decode_statement((folder / "uvm_0.2.10.cose").read_bytes())
    return x5chain(statement.protected[X5CHAIN])[0]


def test_certificate_with_an_invalid_version_is_malformed() -> None:
    # cryptography raises x509.InvalidVersion, which is not a ValueError (scitt_statement).
    der = real_certificate()
    version = der.index(bytes.fromhex("a003020102"))
    bad = der[:version] + bytes.fromhex("a003020140") + der[version + 5 :]
    with pytest.raises(x509.InvalidVersion):
        x509.load_der_x509_certificate(bad)
    with pytest.raises(MalformedCoseError, match=r"not an X\.509 certificate"):
        load_certificate(bad, "x5chain certificate 0")
    pem = (
        b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(bad) + b"-----END CERTIFICATE-----\n"
    )
    with pytest.raises(CcfError, match="does not parse"):
        load_cert(pem)


def test_certificate_with_a_duplicate_extension_is_malformed() -> None:
    # cryptography raises x509.DuplicateExtension, not a ValueError (trust_store).
    crashes = sorted((CORPUS / "trust_store").glob("crash-*"))
    assert crashes
    for crash in crashes:
        with pytest.raises(TrustStoreError, match=r"Duplicate [\d.]+ extension"):
            TARGETS["trust_store"].run(crash.read_bytes())
    good = x509.load_der_x509_certificate(real_certificate())
    assert load_certificate(good.public_bytes(Encoding.DER), "certificate") == good


@pytest.mark.parametrize("vds", [{}, [], "RFC9162_SHA256", True, 3])
def test_receipt_whose_vds_is_not_a_known_int_is_malformed(vds: object) -> None:
    # A map here raised TypeError (unhashable) before (scitt_receipt).
    protected = cbor2.dumps({1: -7, 395: vds})
    receipt = cbor2.dumps(cbor2.CBORTag(18, [protected, {396: {-1: [b"proof"]}}, None, b"s"]))
    with pytest.raises(ScittMalformedReceiptError, match="verifiable data structure"):
        parse_receipt(receipt)


def test_certificate_with_an_unsupported_general_name_is_malformed() -> None:
    # cryptography raises x509.UnsupportedGeneralNameType (an x400Address in an extension).
    (crash,) = (CORPUS / "scitt_statement").glob("crash-7dc61780*")
    statement = decode_statement(crash.read_bytes())
    chain = x5chain(statement.protected[X5CHAIN])
    failures = []
    for i, der in enumerate(chain):
        try:
            load_certificate(der, f"x5chain certificate {i}")
        except MalformedCoseError as e:
            failures.append(str(e))
    assert any("x400Address" in f for f in failures), failures
