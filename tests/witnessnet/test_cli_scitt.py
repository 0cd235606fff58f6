"""`witnessnet scitt verify|receipt|ccf-receipt`: real vectors, tampered copies, exit contract.

Exit status: 0 verified, 1 a check failed, 2 malformed input or a key unavailable.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cbor2
import pytest

from tests.vectors import VECTORS_DIR, load

ESRP = VECTORS_DIR / "scitt-esrp-cts-transparent-statement"
UVM = ESRP / "uvm_0.2.10.cose"
STORE = ESRP / "esrp-cts-db.json"
DRAFT = VECTORS_DIR / "cose-receipts-draft-examples"
SIGNED = VECTORS_DIR / "scitt-ccf-ledger-signed-statements"
ROOT = "9a9b439497b18eed7d5a1f3177c3206cb221e12e46e6f66bac935c62053b0466"
ROOT3 = "688928db5e565af2fb9b29db5cce83de0e0352a0f0c671b450b9dc86bed2de3c"
ROOT5 = "895731b5a570ea1967dd7804b5f43146175f9ac87d1565985de3ecf09c98589c"


def scitt(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "witnessnet", "scitt", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def flip(data: bytes, find: bytes, offset: int) -> bytes:
    i = data.index(find) + offset
    return data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]


def test_real_transparent_statement_verifies(tmp_path: Path) -> None:
    out = scitt("verify", UVM, "--trust-store", STORE)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "service:     esrp-cts-db.confidential-ledger.azure.com" in out.stdout
    assert "tree alg:    CCF_LEDGER_SHA256, alg ES384" in out.stdout
    assert f"signed root: {ROOT} (tree size 12441, txid 458.12441)" in out.stdout
    assert out.stdout.rstrip().endswith("result: verified")
    doc = json.loads(scitt("verify", UVM, "--trust-store", STORE, "--json").stdout)
    assert doc["status"] == "ok" and doc["receipts"][0]["signed_root"]["root"] == ROOT


def _receipt(data: bytes) -> bytes:
    return cbor2.loads(data).value[1][394][0]


def test_flipped_byte_in_proof(tmp_path: Path) -> None:
    data = UVM.read_bytes()
    receipt = _receipt(data)
    h = cbor2.loads(cbor2.loads(receipt).value[1][396][-1][0])[2][1][1]
    bad = tmp_path / "bad.cose"
    bad.write_bytes(flip(data, h, 0))
    out = scitt("verify", bad, "--trust-store", STORE)
    assert out.returncode == 1
    assert "failed      signature: receipt signature by kid 'da7694f1" in out.stdout
    assert "ES384 signature does not verify" in out.stdout
    assert "result: FAILED" in out.stdout


def test_flipped_byte_in_signature(tmp_path: Path) -> None:
    data = UVM.read_bytes()
    sig = cbor2.loads(_receipt(data)).value[3]
    bad = tmp_path / "bad.cose"
    bad.write_bytes(flip(data, sig, 30))
    out = scitt("verify", bad, "--trust-store", STORE)
    assert out.returncode == 1
    assert f"over root {ROOT}: ES384 signature does not verify" in out.stdout


def test_flipped_byte_in_payload(tmp_path: Path) -> None:
    data = UVM.read_bytes()
    payload = cbor2.loads(data).value[2]
    bad = tmp_path / "bad.cose"
    bad.write_bytes(flip(data, payload, 0))
    out = scitt("verify", bad, "--trust-store", STORE)
    assert out.returncode == 1
    assert "failed      issuer signature: PS384 signature does not verify" in out.stdout
    assert "failed      proof: receipt inclusion proof 0 is for data hash a60138fb" in out.stdout


def test_wrong_trust_store_is_key_unavailable(tmp_path: Path) -> None:
    store = tmp_path / "store.json"
    store.write_text(json.dumps({"parameters": []}))
    out = scitt("verify", UVM, "--trust-store", store)
    assert out.returncode == 2
    assert (
        f"trust store {store} has no key for service "
        "'esrp-cts-db.confidential-ledger.azure.com' with kid da7694f16def5a05" in out.stdout
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("manifest.spdx.json.sha384.digest.cose", "no receipts (394)"),
        ("cts-hashv-cwtclaims-b64url.cose", "legacy scitt-ccf-ledger receipt"),
    ],
)
def test_real_signed_statements_verify_as_far_as_keys_allow(name: str, reason: str) -> None:
    out = scitt("verify", SIGNED / name, "--trust-store", STORE)
    assert out.returncode == 2
    assert "ok          issuer signature" in out.stdout
    assert "ok          issuer identity: did:x509 resolved" in out.stdout
    assert reason in out.stdout


def test_malformed_statement_and_store(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cose"
    bad.write_bytes(UVM.read_bytes()[:-5])
    out = scitt("verify", bad, "--trust-store", STORE)
    assert out.returncode == 2 and "not valid CBOR" in out.stderr
    store = tmp_path / "store.json"
    store.write_text("{")
    out = scitt("verify", UVM, "--trust-store", store)
    assert out.returncode == 2 and f"{store}: not JSON" in out.stderr
    out = scitt("verify", tmp_path / "missing.cose", "--trust-store", STORE)
    assert out.returncode == 2 and "missing.cose" in out.stderr


def test_draft_receipts_proofs_verify_signatures_not_checkable() -> None:
    d3 = cbor2.loads(
        cbor2.loads((DRAFT / "consistency-receipt.cbor").read_bytes()).value[1][396][-2][0]
    )[2][1]
    out = scitt("receipt", DRAFT / "inclusion-receipt.cbor", "--leaf-hash", d3.hex())
    assert out.returncode == 2
    assert f"root (signature not checked): {ROOT5} (tree size 5)" in out.stdout
    assert "unavailable signature: no key for kid 'test-key-1' of service " in out.stdout
    out = scitt("receipt", DRAFT / "consistency-receipt.cbor", "--old-root", ROOT3, "--json")
    doc = json.loads(out.stdout)
    assert out.returncode == 2
    assert doc["signed_root"]["old_root"] == ROOT3 and doc["signed_root"]["root"] == ROOT5
    assert [c["status"] for c in doc["checks"]] == ["ok", "unavailable", "unavailable"]
    out = scitt("receipt", DRAFT / "consistency-receipt.cbor", "--old-root", ROOT5)
    assert out.returncode == 1 and f"not the trusted {ROOT5}" in out.stdout
    out = scitt("receipt", DRAFT / "inclusion-receipt.cbor", "--leaf-hash", "00")
    assert out.returncode == 2 and "--leaf-hash: want 64 hex digits" in out.stderr


def test_ccf_json_receipt(tmp_path: Path) -> None:
    path = tmp_path / "receipt.json"
    path.write_bytes(load("ccf-json-receipt-docs-example.txt")["receipt-json"])
    out = scitt("ccf-receipt", path)
    assert out.returncode == 2
    assert (
        "root:        15f24788c7ec4ce792deccf4fcd7e28992e154f37ecdd96ea1ecd16199f32ae0"
        in out.stdout
    )
    assert "ok          signature: node key signs the root" in out.stdout
    assert "unavailable service endorsement: no service certificate given" in out.stdout
    doc = json.loads(path.read_text())
    doc["proof"][0]["left"] = "00" * 32
    path.write_text(json.dumps(doc))
    out = scitt("ccf-receipt", path)
    assert out.returncode == 1 and "failed      signature: node signature over root" in out.stdout


def test_help_teaches_the_exit_contract() -> None:
    out = scitt("verify", "--help")
    assert out.returncode == 0
    assert "0  verified" in out.stdout and "2  not checked" in out.stdout
    assert '"parameters"' in out.stdout
