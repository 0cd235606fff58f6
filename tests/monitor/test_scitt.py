"""The monitor follows a SCITT service (kind = "scitt") and checks its signed statements.

The local SCITT test service (tests/tlog/scitt/scitt_service.py) serves RFC9162_SHA256
receipts over real HTTP; `witnessnet monitor scan` (a subprocess) reads it through
tlog.scitt.source.ScittSource with the service's cose-rfc9162-root vkey, verifies the
statements hash to the signed root and applies the scitt claim type: statements of an
unconfigured issuer, or not signed with an issuer's configured certificate, are findings,
each with an inclusion proof that verifies against the service's signed head.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from functools import partial
from pathlib import Path

import hypercorn.trio
import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypercorn.config import Config

from monitor.rules import SIGNER, UNKNOWN
from tests.monitor.helpers import findings, scan
from tests.tlog.scitt import builders as b
from tests.tlog.scitt.scitt_service import ScittService
from tlog.checkpoint import open_checkpoint
from tlog.keys import parse_vkey
from tlog.merkle import RFC6962, verify_inclusion

GOOD = "did:x509:0:sha256:good::eku:1.3.6.1.4.1.311.76.59.1.2"
ROGUE = "did:x509:0:sha256:rogue::eku:1.3.6.1.4.1.311.76.59.1.2"


def certificate(key: ec.EllipticCurvePrivateKey, name: str) -> bytes:
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


GOOD_SIGNER, OTHER_SIGNER = b.signer(-7), b.signer(-7)
GOOD_CERT = certificate(GOOD_SIGNER.key, "good issuer")
OTHER_CERT = certificate(OTHER_SIGNER.key, "someone else")


def statement(i: int, iss: str = GOOD, signer: b.Signer = GOOD_SIGNER,
              cert: bytes = GOOD_CERT) -> bytes:  # fmt: skip
    header = {33: cert, 15: {1: iss, 2: f"pkg/{i}"}, 3: "application/json"}
    return b.sign1(signer, header, {}, b'{"release": %d}' % i)


PLANTED = {
    7: (SIGNER, statement(7, signer=OTHER_SIGNER, cert=OTHER_CERT)),  # another certificate
    13: (UNKNOWN, statement(13, iss=ROGUE)),  # an issuer nobody configured
    19: (SIGNER, statement(19, signer=OTHER_SIGNER)),  # GOOD's certificate, another key
    35: (UNKNOWN, statement(35, iss=ROGUE, signer=OTHER_SIGNER, cert=OTHER_CERT)),
}


def entry(i: int) -> bytes:
    return PLANTED[i][1] if i in PLANTED else statement(i)


async def serve(nursery: trio.Nursery, service: ScittService) -> None:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    service.url = (await nursery.start(partial(hypercorn.trio.serve, service.app(), config)))[0]


def monitor_config(directory: Path, service: ScittService) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "monitor.toml"
    path.write_text(
        f"""\
state = "monitor.db"
batch_size = 256

[[logs]]
name = "scitt"
kind = "scitt"
origin = "{b.ISSUER}"
vkey = "{b.root_verifier(service.signer).vkey()}"
url = "{service.url}"
claims = ["scitt"]

[[issuers]]
name = "{GOOD}"
certificates = ["{hashlib.sha256(GOOD_CERT).hexdigest()}"]

[[sinks]]
type = "jsonl"
path = "findings.jsonl"
"""
    )
    return path


def lines(result: object) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines()]  # type: ignore[attr-defined]


async def test_monitor_finds_exactly_the_unauthorised_statements(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    service = ScittService(b.signer(-7))
    for i in range(30):
        service.register(entry(i))
    await serve(nursery, service)
    path = monitor_config(tmp_path / "mon", service)
    first = await scan(path)
    assert first.returncode == 1, first.stderr.decode()[-2000:]
    assert lines(first) == [
        {"log": "scitt", "start": 0, "end": 30, "size": 30, "findings": 3, "error": None}
    ]
    for i in range(30, 40):
        service.register(entry(i))
    second = await scan(path)
    assert second.returncode == 1, second.stderr.decode()[-2000:]
    assert (lines(second)[0]["start"], lines(second)[0]["end"]) == (30, 40)
    assert (await scan(path)).returncode == 0  # nothing new
    verifier = parse_vkey(b.root_verifier(service.signer).vkey())
    got = {}
    for alert in findings(tmp_path / "mon"):
        finding = alert["finding"]
        index = finding["index"]
        leaf = base64.b64decode(finding["entry"])
        assert leaf == entry(index)
        cp = open_checkpoint(finding["checkpoint"], [verifier]).checkpoint
        proof = [base64.b64decode(h) for h in finding["inclusion_proof"]]
        verify_inclusion(RFC6962.leaf(leaf), index, cp.size, proof, cp.root)
        assert cp.root == service.tree.root(cp.size)
        got[index] = finding["rule"]
    assert got == {i: rule for i, (rule, _) in PLANTED.items()}


async def test_a_statement_swapped_after_registration_is_a_root_mismatch(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    service = ScittService(b.signer(-7))
    for i in range(30):
        service.register(statement(i))
    service.entries[5] = statement(500)  # served in place of what the tree holds
    await serve(nursery, service)
    result = await scan(monitor_config(tmp_path / "mon", service))
    assert result.returncode == 1, result.stderr.decode()[-2000:]
    (alert,) = findings(tmp_path / "mon")
    assert alert["finding"]["problem"] == "root-mismatch"
