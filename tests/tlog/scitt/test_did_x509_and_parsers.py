"""did:x509 resolution against real chains; property tests for the small parsers."""

from __future__ import annotations

import contextlib

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vectors import VECTORS_DIR
from tlog.cose import headers as h
from tlog.cose.keys import load_certificate
from tlog.cose.sign1 import decode_sign1
from tlog.scitt.ccf_proof import parse_ccf_inclusion_proof
from tlog.scitt.did_x509 import DidX509Error, DidX509UnsupportedError, resolve
from tlog.scitt.errors import ScittError
from tlog.scitt.legacy_receipt import parse_legacy_receipt
from tlog.scitt.rfc9162_proof import parse_consistency, parse_inclusion

UVM = decode_sign1(
    (VECTORS_DIR / "scitt-esrp-cts-transparent-statement/uvm_0.2.10.cose").read_bytes()
)
CHAIN = [load_certificate(c, "c") for c in h.x5chain(UVM.header(h.X5CHAIN))]
DID = UVM.protected[15][1]
BASE = DID.split("::")[0]


def test_real_chain_resolves_its_did() -> None:
    assert "eku 1.3.6.1.4.1.311.76.59.1.2" in resolve(DID, CHAIN)


@pytest.mark.parametrize(
    ("did", "chain", "error", "message"),
    [
        (BASE + "::eku:1.2.3", CHAIN, DidX509Error, "EKU lacks 1.2.3"),
        (BASE + "::subject:CN:ContainerPlat:O:Microsoft%20Corporation", CHAIN, None, "subject"),
        (BASE + "::subject:CN:Other", CHAIN, DidX509Error, "not 'Other'"),
        (BASE + "::subject:CN", CHAIN, DidX509Error, "pairs"),
        (BASE + "::subject:XX:y", CHAIN, DidX509Error, "unknown attribute"),
        (BASE + "::san:email:a@b", CHAIN, DidX509UnsupportedError, "'san' is not supported"),
        (BASE.replace("sha256", "md5") + "::eku:1.2", CHAIN, DidX509UnsupportedError, "md5"),
        ("did:web:example.com", CHAIN, DidX509Error, "not a did:x509"),
        (BASE + "::eku:notanoid", CHAIN, DidX509Error, "not an OID"),
        (DID, CHAIN[:1], DidX509Error, "at least two"),
        (DID, [CHAIN[0], CHAIN[2]], DidX509Error, "certificate 0 is not signed by certificate 1"),
        (DID, CHAIN[:2], DidX509Error, "matches no CA certificate"),
    ],
)
def test_did_x509_policies_and_failures(did, chain, error, message) -> None:
    if error is None:
        assert message in resolve(did, chain)
        return
    with pytest.raises(error, match=message):
        resolve(did, chain)


@settings(max_examples=300)
@given(st.text(max_size=120))
def test_random_dids_raise_only_did_errors(did: str) -> None:
    with contextlib.suppress(DidX509Error):
        resolve(did, CHAIN)


@settings(max_examples=300)
@given(
    st.sampled_from(["did:x509:0:sha256:", BASE + "::", BASE + "::subject:"]), st.text(max_size=60)
)
def test_did_suffixes_raise_only_did_errors(prefix: str, rest: str) -> None:
    with contextlib.suppress(DidX509Error):
        resolve(prefix + rest, CHAIN)


cbor_items = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.binary(max_size=40)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.integers(-3, 3) | st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=400)
@given(cbor_items)
def test_proof_parsers_on_random_cbor_raise_only_scitt_errors(item) -> None:
    data = cbor2.dumps(item)
    for parse in (parse_inclusion, parse_consistency, parse_ccf_inclusion_proof):
        with contextlib.suppress(ScittError):
            parse(data, "proof")
    with contextlib.suppress(ScittError):
        parse_inclusion(item, "proof")


@settings(max_examples=300)
@given(cbor_items)
def test_legacy_parser_never_raises(item) -> None:
    assert parse_legacy_receipt(item) is None or isinstance(item, list)
    wrapped = [cbor2.dumps(item), []]
    got = parse_legacy_receipt(wrapped)
    assert got is None or (isinstance(item, dict) and "tree_alg" in item)
