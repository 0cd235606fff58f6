"""A real CCF receipt's signed root as a checkpoint note, verified by tlog.keys.CcfCoseVerifier."""

from __future__ import annotations

import base64
import json

import pytest

from tests.vectors import VECTORS_DIR
from tlog.checkpoint import open_checkpoint
from tlog.cose.keys import load_certificate, spki_der, spki_sha256_hex
from tlog.cose.sign1 import decode_sign1
from tlog.errors import InvalidSignatureError, UnverifiedNoteError
from tlog.keys import CcfCoseVerifier, parse_vkey
from tlog.scitt.checkpoint import receipt_to_checkpoint
from tlog.scitt.receipt import parse_receipt, verify_inclusion_receipt
from tlog.scitt.statement import signed_statement_bytes

ESRP = VECTORS_DIR / "scitt-esrp-cts-transparent-statement"
SERVICE = "esrp-cts-db.confidential-ledger.azure.com"
ROOT = "9a9b439497b18eed7d5a1f3177c3206cb221e12e46e6f66bac935c62053b0466"


def service_verifier(name: str = SERVICE) -> CcfCoseVerifier:
    store = json.loads((ESRP / "esrp-cts-db.json").read_text())
    for entry in store["parameters"]:
        key = load_certificate(base64.b64decode(entry["serviceCertificate"]), "c").public_key()
        if spki_sha256_hex(key).startswith("da7694f1"):
            return CcfCoseVerifier(name, spki_der(key))
    raise AssertionError("service key not in the store")


def esrp():
    statement = decode_sign1((ESRP / "uvm_0.2.10.cose").read_bytes())
    receipt = parse_receipt(statement.unprotected[394][0])
    signed = verify_inclusion_receipt(receipt, None, entry=signed_statement_bytes(statement))
    return receipt, signed


def test_real_receipt_becomes_a_checkpoint_the_service_vkey_verifies() -> None:
    receipt, signed = esrp()
    v = service_verifier()
    note = receipt_to_checkpoint(receipt, signed, SERVICE, [(v.name, v.key_id)])
    opened = open_checkpoint(note, [parse_vkey(v.vkey())])
    cp = opened.checkpoint
    assert (cp.origin, cp.size, cp.root.hex()) == (SERVICE, 12441, ROOT)


def test_a_wrong_size_or_origin_or_root_is_refused() -> None:
    receipt, signed = esrp()
    v = service_verifier()
    for bad in (
        signed.__class__(**{**_fields(signed), "tree_size": 12440}),
        signed.__class__(**{**_fields(signed), "root": bytes(32)}),
    ):
        note = receipt_to_checkpoint(receipt, bad, SERVICE, [(v.name, v.key_id)])
        with pytest.raises(InvalidSignatureError):
            open_checkpoint(note, [v])
    other = service_verifier("someone.else")
    note = receipt_to_checkpoint(receipt, signed, SERVICE, [(other.name, other.key_id)])
    with pytest.raises(InvalidSignatureError):
        open_checkpoint(note, [other])
    note = receipt_to_checkpoint(receipt, signed, SERVICE, [("unknown", 7)])
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(note, [v])


def _fields(signed) -> dict:
    return {name: getattr(signed, name) for name in signed.__slots__}
