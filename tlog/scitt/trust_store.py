"""Trust stores: which service and issuer keys a verifier accepts. Parsing is pure.

Three JSON formats are read, told apart by their top-level member:

1. `{"parameters": [...]}`: a scitt-ccf-ledger / Azure CTS static trust store
   (e.g. esrp-cts-db.json). Each entry has `serviceCertificate` (base64 DER),
   `serviceId`, `signatureAlgorithm` and `treeAlgorithm` ("CCF"). Entries carry
   no service name, so their keys are accepted for any issuer; the kid is the
   lowercase hex SHA-256 of the certificate's DER SubjectPublicKeyInfo, as CCF
   services put it in receipts. Renewed certificates with the same key collapse
   to one key.
2. `{"issuers": {"<iss>": {"keys": [<JWK>...], "certificates": ["<base64 DER or PEM>"]}}}`:
   this project's format. Each key is accepted only for statements or receipts
   whose CWT `iss` equals `<iss>`. A JWK's `kid` (text, compared as UTF-8 bytes)
   is its kid; a JWK without one, and a certificate, get the SPKI SHA-256 hex kid.
3. `{"keys": [<JWK>...]}`: a bare JWKS, accepted for any issuer.

Lookup is by (iss, kid). No match is a KeyUnavailableError that names both and
the store; two different keys for one (iss, kid) is a TrustStoreError at load.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from tlog.cose.errors import CoseError
from tlog.cose.keys import load_certificate, public_key_from_jwk, spki_der, spki_sha256_hex
from tlog.scitt.errors import KeyUnavailableError, TrustStoreError

MAX_STORE_SIZE = 4 << 20


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """One accepted key: for `issuer` (None: any issuer) under identifier `kid`."""

    issuer: str | None
    kid: bytes
    key: PublicKeyTypes
    source: str


@dataclass(frozen=True, slots=True)
class TrustStore:
    """The keys of one trust store file, in file order."""

    name: str
    keys: tuple[TrustedKey, ...]

    def lookup(self, issuer: str | None, kid: bytes | None, role: str) -> TrustedKey:
        """The key for (issuer, kid); KeyUnavailableError saying precisely what is missing.

        role ("service" or "issuer") only words the message. Without a kid the
        issuer must have exactly one key.
        """
        for_issuer = [k for k in self.keys if k.issuer is None or k.issuer == issuer]
        matches = for_issuer if kid is None else [k for k in for_issuer if k.kid == kid]
        if len(matches) == 1:
            return matches[0]
        who = f"{role} {issuer!r}" if issuer else f"{role} (no iss claim)"
        kid_text = "no kid" if kid is None else f"kid {_kid_text(kid)}"
        if not matches:
            known = sorted({_kid_text(k.kid) for k in for_issuer})
            have = f"; it has kids {', '.join(known)} for it" if known else "; it has no key for it"
            raise KeyUnavailableError(
                f"trust store {self.name} has no key for {who} with {kid_text}{have}"
            )
        raise KeyUnavailableError(
            f"trust store {self.name} has {len(matches)} keys for {who} and the receipt has "
            f"{kid_text}: cannot choose"
        )


def _kid_text(kid: bytes) -> str:
    try:
        text = kid.decode("ascii")
    except UnicodeDecodeError:
        return kid.hex()
    return text if text.isprintable() else kid.hex()


def _certificate_key(value: Any, where: str) -> PublicKeyTypes:
    if not isinstance(value, str) or not value:
        raise TrustStoreError(f"{where}: certificate must be a non-empty string")
    try:
        if value.lstrip().startswith("-----BEGIN"):
            data = value.encode("ascii")
        else:
            data = base64.b64decode(value, validate=True)
        return load_certificate(data, where).public_key()
    except (binascii.Error, ValueError, CoseError) as e:
        raise TrustStoreError(f"{where}: {e}") from None


def _jwk_key(jwk: Any, where: str) -> tuple[PublicKeyTypes, bytes | None]:
    if not isinstance(jwk, Mapping):
        raise TrustStoreError(f"{where}: a JWK must be an object")
    try:
        key = public_key_from_jwk(jwk, where)
    except CoseError as e:
        raise TrustStoreError(str(e)) from None
    kid = jwk.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid):
        raise TrustStoreError(f"{where}: kid must be a non-empty string")
    return key, None if kid is None else kid.encode("utf-8")


def _list(value: Any, where: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise TrustStoreError(f"{where} must be an array")
    return value


def _ccf_parameters(doc: Mapping[str, Any], name: str) -> list[TrustedKey]:
    keys = []
    for i, entry in enumerate(_list(doc["parameters"], f"{name}: parameters")):
        where = f"{name}: parameters[{i}]"
        if not isinstance(entry, Mapping):
            raise TrustStoreError(f"{where} must be an object")
        tree = entry.get("treeAlgorithm", "CCF")
        if tree != "CCF":
            raise TrustStoreError(f"{where}: treeAlgorithm {tree!r} is not supported (want CCF)")
        key = _certificate_key(entry.get("serviceCertificate"), f"{where}.serviceCertificate")
        keys.append(TrustedKey(None, spki_sha256_hex(key).encode("ascii"), key, where))
    return keys


def _issuers(doc: Mapping[str, Any], name: str) -> list[TrustedKey]:
    issuers = doc["issuers"]
    if not isinstance(issuers, Mapping):
        raise TrustStoreError(f"{name}: issuers must be an object keyed by issuer")
    keys = []
    for iss, entry in issuers.items():
        where = f"{name}: issuers[{iss!r}]"
        if not isinstance(entry, Mapping) or set(entry) - {"keys", "certificates"}:
            raise TrustStoreError(f"{where} must be an object with only 'keys' and 'certificates'")
        for i, jwk in enumerate(_list(entry.get("keys", []), f"{where}.keys")):
            key, kid = _jwk_key(jwk, f"{where}.keys[{i}]")
            kid = kid or spki_sha256_hex(key).encode("ascii")
            keys.append(TrustedKey(iss, kid, key, f"{where}.keys[{i}]"))
        for i, cert in enumerate(_list(entry.get("certificates", []), f"{where}.certificates")):
            key = _certificate_key(cert, f"{where}.certificates[{i}]")
            kid = spki_sha256_hex(key).encode("ascii")
            keys.append(TrustedKey(iss, kid, key, f"{where}.certificates[{i}]"))
    return keys


def _jwks(doc: Mapping[str, Any], name: str) -> list[TrustedKey]:
    keys = []
    for i, jwk in enumerate(_list(doc["keys"], f"{name}: keys")):
        key, kid = _jwk_key(jwk, f"{name}: keys[{i}]")
        keys.append(
            TrustedKey(None, kid or spki_sha256_hex(key).encode("ascii"), key, f"keys[{i}]")
        )
    return keys


def parse_trust_store(data: bytes, name: str) -> TrustStore:
    """Parse a trust store document; `name` (the file) appears in every message."""
    if len(data) > MAX_STORE_SIZE:
        raise TrustStoreError(f"{name}: {len(data)} bytes, more than {MAX_STORE_SIZE}")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise TrustStoreError(f"{name}: not JSON: {e}") from None
    if not isinstance(doc, Mapping):
        raise TrustStoreError(f"{name}: must be a JSON object")
    formats = [f for f in ("parameters", "issuers", "keys") if f in doc]
    if len(formats) != 1:
        raise TrustStoreError(
            f"{name}: want exactly one of 'parameters' (CCF/CTS store), 'issuers' "
            "(witnessnet store) or 'keys' (JWKS)"
        )
    loader = {"parameters": _ccf_parameters, "issuers": _issuers, "keys": _jwks}[formats[0]]
    unique: dict[tuple[str | None, bytes], TrustedKey] = {}
    for k in loader(doc, name):
        seen = unique.get((k.issuer, k.kid))
        if seen is None:
            unique[(k.issuer, k.kid)] = k
        elif spki_der(seen.key) != spki_der(k.key):
            raise TrustStoreError(
                f"{k.source} and {seen.source} are different keys with kid {_kid_text(k.kid)}"
            )
    return TrustStore(name, tuple(unique.values()))
