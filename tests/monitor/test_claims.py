"""The claim parsers: real vectors, table-driven malformed entries, and property tests
that arbitrary or mutated bytes only ever raise MalformedClaimError."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.claims import CLAIM_TYPES, Claim, parse_entry
from monitor.claims.release import release_text
from monitor.cose import decode_sign1, verify_with_certificate
from monitor.errors import MalformedClaimError
from tests.monitor.helpers import ALICE, PUBLISHER, binding, firmware, gosum, release
from tests.tlog.ct.helpers import precert_entry, x509_entry
from tests.vectors import VECTORS_DIR, load
from tlog.note import sign_note

SCITT_DIR = VECTORS_DIR / "scitt-ccf-ledger-signed-statements"
PARSERS = {name: t.parse for name, t in CLAIM_TYPES.items()}


def parse(kind: str, entry: bytes) -> tuple[Claim, ...]:
    return PARSERS[kind](entry)


def test_armored_witness_manifest() -> None:
    v = load("armored-witness-firmware-manifest.txt")
    (claim,) = parse("firmware", v["manifest-note"])
    assert (claim.type, claim.subject, claim.version) == (
        "firmware", "TRUSTED_APPLET", "0.3.1709910063-incompatible",
    )  # fmt: skip
    raw = base64.b64decode("lLPLT5TO2+Ln71cByKhVvNFyAL47IzOOSGoXNKVSCvU=")
    assert claim.value == raw.hex()
    assert claim.fields["commit"] == "9651fc25839d9937acc041057cf3906f26fc1ae5"
    assert claim.describe()["signers"] == ["transparency.dev-aw-applet-ci+3ff32e2c"]


def test_ft_demo_statement_is_not_a_manifest_note() -> None:
    statement = load("ft-demo-firmware-formats.txt")["firmware-statement-json"]
    with pytest.raises(MalformedClaimError, match="not a signed note"):
        parse("firmware", statement)


def test_round_trips() -> None:
    (r,) = parse("witnessnet-release", release("witnessnet", "1.2.3"))
    assert (r.subject, r.version, r.fields["commit"]) == ("witnessnet", "1.2.3", "a" * 40)
    (f,) = parse("firmware", firmware("TRUSTED_OS", "0.1.0"))
    assert (f.subject, f.version) == ("TRUSTED_OS", "0.1.0")
    (b,) = parse("key-binding", binding("alice@example.com", ALICE.vkey()))
    assert (b.subject, b.value, b.fields["provider"]) == (
        "alice@example.com", ALICE.vkey(), "example.com",
    )  # fmt: skip
    zip_line, mod_line = parse("gosum", gosum("example.com/m", "v1.0.0"))
    assert (zip_line.subject, mod_line.subject) == (
        "example.com/m@v1.0.0",
        "example.com/m@v1.0.0/go.mod",
    )


def note(text: str) -> bytes:
    return sign_note(text, [PUBLISHER]).to_bytes()


GOOD_RELEASE = release_text("c", "1.0.0", "a" * 40, "b" * 64)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (GOOD_RELEASE.replace("witnessnet.dev/release/v1", "witnessnet.dev/release/v2"), "line 1"),
        (GOOD_RELEASE.replace("version 1.0.0\n", ""), "field lines"),
        (GOOD_RELEASE.replace("version 1.0.0", "version 1.0"), "semantic version"),
        (GOOD_RELEASE.replace("commit " + "a" * 40, "commit " + "A" * 40), "commit"),
        (GOOD_RELEASE.replace("sha256 " + "b" * 64, "sha256 " + "b" * 63), "sha256"),
        (GOOD_RELEASE.replace("component c", "component  c"), "one word"),
        (GOOD_RELEASE.replace("component c\nversion 1.0.0", "version 1.0.0\ncomponent c"), "want"),
        (GOOD_RELEASE + "url ftp://x\n", "url"),
        (GOOD_RELEASE + "url https://x\nextra y\n", "field lines"),
    ],
)
def test_malformed_release(text: str, problem: str) -> None:
    with pytest.raises(MalformedClaimError, match=problem):
        parse("witnessnet-release", note(text))


@pytest.mark.parametrize(
    ("manifest", "problem"),
    [
        ("[1, 2]\n", "not an object"),
        ('{"component": "x", "component": "y"}\n', "twice"),
        ('{"component": NaN}\n', "non-JSON number"),
        ('{"component": 1}\n', "not a string"),
        ('{"component": "x", "git": {"tag_name": "1.0.0"}}\n', "commit_fingerprint"),
        ('{"component": "x", "git": {"tag_name": "one", "commit_fingerprint": ""}}\n', "semantic"),
        ('{"component": "x", "git": {"tag_name": "1.0.0", "commit_fingerprint": "'
         + "a" * 40 + '"}, "output": {"firmware_digest_sha256": "AAAA"}}\n', "32 bytes"),
        ("{" * 100000 + "\n", "not JSON"),
    ],
)  # fmt: skip
def test_malformed_firmware(manifest: str, problem: str) -> None:
    with pytest.raises(MalformedClaimError, match=problem):
        parse("firmware", note(manifest))


def test_malformed_binding() -> None:
    bad_id = ALICE.vkey().replace(ALICE.vkey().split("+")[1], "00000000")
    text = f"witnessnet.dev/key-binding/v1\nprovider p\nidentity i\nkey {bad_id}\n"
    with pytest.raises(MalformedClaimError, match="usable vkey"):
        parse("key-binding", note(text))


H = "h1:" + base64.b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (f"m v1.0.0 {H}", "newline"),
        (f"m v1.0.0 {H[3:]}\n", "h1:"),
        (f"m v1.0.0 h1:{'A' * 43}\n", "base64"),
        (f"m 1.0.0 {H}\n", "start with v"),
        (f"m v1.0 {H}\n", "semantic"),
        (f"m v1.0.0 {H}\nn v1.0.0/go.mod {H}\n", "another module"),
        (f"m v1.0.0 {H}\nm v1.0.0 {H}\n", "twice"),
        (f"m v1.0.0 {H} extra\n", "want"),
        (f"m\u00e9 v1.0.0 {H}\n", "ASCII"),
        (f"m v1.0.0 {H}\n" * 9, "lines"),
    ],
)
def test_malformed_gosum(record: str, problem: str) -> None:
    with pytest.raises(MalformedClaimError, match=problem):
        parse("gosum", record.encode())


def test_real_scitt_statements_parse_and_verify() -> None:
    issuer = (
        "did:x509:0:sha256:HnwZ4lezuxq_GVcl_Sk7YWW170qAD0DZBLXilXet0jg::eku:1.3.6.1.4.1.311.10.3.13"
    )
    expected = {
        "manifest.spdx.json.sha384.digest.cose":
            ("test.submission-1", "PS384", "application/spdx+json+cose-hash-v"),
        "cts-hashv-cwtclaims-b64url.cose": ("Test", "PS256", "application/json+cose-hash-v"),
    }  # fmt: skip
    for name, (subject, alg, content_type) in expected.items():
        data = (SCITT_DIR / name).read_bytes()
        (claim,) = parse("scitt", data)
        assert claim.subject == issuer
        assert (claim.fields["subject"], claim.fields["alg"]) == (subject, alg)
        assert claim.fields["content_type"] == content_type
        statement = claim.statement
        assert statement is not None
        der = statement.certificate()
        assert der is not None
        assert claim.fields["certificate_sha256"] == hashlib.sha256(der).hexdigest()
        assert verify_with_certificate(statement, der)
        tampered = bytearray(data)
        tampered[-5] ^= 1  # inside the signature
        assert not verify_with_certificate(decode_sign1(bytes(tampered)), der)


def cose_sign1(protected: dict, payload: bytes | None, sign: Callable[[bytes], bytes]) -> bytes:
    p = cbor2.dumps(protected)
    tbs = cbor2.dumps(["Signature1", p, b"", payload])
    return cbor2.dumps(cbor2.CBORTag(18, [p, {}, payload, sign(tbs)]))


def self_signed(key: object) -> bytes:
    """A DER certificate for key, signed by itself (or by an ECDSA key for Ed25519)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test issuer")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).serial_number(1)
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .public_key(key.public_key())  # type: ignore[attr-defined]
    )  # fmt: skip
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = builder.sign(key, algorithm)  # type: ignore[arg-type]
    return cert.public_bytes(serialization.Encoding.DER)


def test_es256_and_eddsa_statements() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()

    def es256(tbs: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes

        r, s = decode_dss_signature(ec_key.sign(tbs, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    for alg, key, sign in ((-7, ec_key, es256), (-8, ed_key, ed_key.sign)):
        der = self_signed(key)
        header = {1: alg, 3: "application/json", 15: {1: "did:web:example.com", 2: "pkg"}, 33: der}
        data = cose_sign1(header, b"{}", sign)
        (claim,) = parse("scitt", data)
        assert claim.subject == "did:web:example.com" and claim.fields["subject"] == "pkg"
        assert claim.statement is not None and verify_with_certificate(claim.statement, der)
        detached = cose_sign1(header, None, sign)
        (claim,) = parse("scitt", detached)
        assert claim.value == "" and claim.statement is not None
        assert not verify_with_certificate(claim.statement, der)


def test_legacy_issuer_header() -> None:
    data = cose_sign1({1: -7, 391: "did:web:old.example", 392: "feed"}, b"x", lambda b: b"s")
    (claim,) = parse("scitt", data)
    assert (claim.subject, claim.fields["subject"]) == ("did:web:old.example", "feed")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (cbor2.dumps([b"", {}, b"", b""]), "algorithm"),
        (cbor2.dumps(cbor2.CBORTag(17, [b"", {}, b"", b""])), "not COSE_Sign1"),
        (cbor2.dumps([b"", {}, b""]), "4 items"),
        (cbor2.dumps([cbor2.dumps([1]), {}, b"", b""]), "must be a map"),
        (cbor2.dumps([cbor2.dumps({1: -7}), {}, b"", b""]), "CWT claims"),
        (cbor2.dumps([cbor2.dumps({1: -7, 15: {1: "i"}}), {}, b"", b""]), "sub"),
        (cbor2.dumps([cbor2.dumps({1: -7}), {1: -7}, b"", b""]), "both protected"),
        (cbor2.dumps([b"", {}, b"", b""]) + b"\x00", "after the CBOR item"),
        (b"\x84\x40\xa2\x01\x01\x01\x02\x40\x40", "Duplicate"),
        (b"\x9f\x40\xa0\x40\x40\xff", "indefinite"),
        (b"\x84" * 40, "CBOR"),
    ],
)
def test_malformed_scitt(data: bytes, problem: str) -> None:
    with pytest.raises(MalformedClaimError, match=problem):
        parse("scitt", data)


def test_parse_entry_dispatches_by_first_bytes() -> None:
    types = list(CLAIM_TYPES.values())
    samples = {
        "witnessnet-release": release("c", "1.0.0"),
        "firmware": firmware("C", "1.0.0"),
        "key-binding": binding("a@example.com", ALICE.vkey()),
        "gosum": gosum("example.com/m", "v1.0.0"),
        "scitt": (SCITT_DIR / "cts-hashv-cwtclaims-b64url.cose").read_bytes(),
        "ct": x509_entry(1, ["a.test"]).leaf,
    }
    for kind, entry in samples.items():
        assert [t.name for t in types if t.sniff(entry)] == [kind]
        assert parse_entry(entry, types)[0].type == kind
    with pytest.raises(MalformedClaimError, match="none of the configured"):
        parse_entry(b"hello\n", types)


def valid_entries() -> dict[str, list[bytes]]:
    aw = load("armored-witness-firmware-manifest.txt")["manifest-note"]
    scitt = [p.read_bytes() for p in sorted(SCITT_DIR.glob("*.cose"))]
    return {
        "witnessnet-release": [release("witnessnet", "1.0.0-rc.1")],
        "firmware": [aw, firmware("TRUSTED_OS", "1.0.0")],
        "key-binding": [binding("alice@example.com", ALICE.vkey())],
        "gosum": [gosum("golang.org/x/text", "v0.3.0")],
        "scitt": scitt,
        "ct": [x509_entry(1, ["a.test"], cn="a.test").leaf, precert_entry(2, ["*.b.test"]).leaf],
    }


VALID = valid_entries()


def only_typed_errors(kind: str, data: bytes) -> None:
    try:
        claims = parse(kind, data)
    except MalformedClaimError:
        return
    assert claims and all(isinstance(c, Claim) and c.type == kind for c in claims)


@pytest.mark.parametrize("kind", sorted(PARSERS))
@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes(kind: str, data: bytes) -> None:
    only_typed_errors(kind, data)


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID[kind])))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif data:
            del data[i : i + draw(st.integers(1, 16))]
    return bytes(data)


@pytest.mark.parametrize("kind", sorted(PARSERS))
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_valid_entries(kind: str, data: st.DataObject) -> None:
    only_typed_errors(kind, data.draw(mutated(kind)))


cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.binary(max_size=40)
    | st.text(max_size=20) | st.floats(allow_nan=True),
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.integers(-400, 400) | st.text(max_size=5), inner, max_size=5)
    | st.builds(cbor2.CBORTag, st.sampled_from([0, 1, 2, 18, 25, 28, 29, 35, 258, 55799]), inner),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(protected=cbor_values, unprotected=cbor_values, payload=cbor_values, tag=st.booleans())
def test_arbitrary_cbor_statements(
    protected: object, unprotected: object, payload: object, tag: bool
) -> None:
    try:
        p = cbor2.dumps(protected)
        item = [p, unprotected, payload, b"sig"]
        data = cbor2.dumps(cbor2.CBORTag(18, item) if tag else item)
    except (cbor2.CBOREncodeError, ValueError, TypeError):
        return
    only_typed_errors("scitt", data)
