"""The rules, table by table, with an in-memory rule memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from monitor.claims import CLAIM_TYPES
from monitor.claims.release import release_text
from monitor.rules import (
    BUILD,
    KEY,
    MALFORMED,
    MODULE,
    ROLLBACK,
    SIGNER,
    UNKNOWN,
    Remembered,
    Rules,
    Signers,
    check_entry,
)
from tests.monitor.helpers import (
    ALICE,
    EVIL,
    FIRMWARE,
    MALLORY,
    PROVIDER,
    PUBLISHER,
    binding,
    digest,
    firmware,
    gosum,
    release,
    signer,
)
from tests.vectors import VECTORS_DIR, load
from tlog.keys import parse_vkey
from tlog.note import Note, Signature, parse_note, sign_note

TYPES = list(CLAIM_TYPES.values())
SECOND = signer("example.com/release-2")


@dataclass
class Memory:
    items: dict[tuple[str, str], Remembered] = field(default_factory=dict)

    def recall(self, kind: str, key: str) -> Remembered | None:
        return self.items.get((kind, key))

    def remember(self, kind: str, key: str, item: Remembered) -> None:
        self.items[(kind, key)] = item


def rules(**overrides: object) -> Rules:
    components = {
        "witnessnet": Signers("witnessnet", (PUBLISHER.verifier(),)),
        "TRUSTED_OS": Signers("TRUSTED_OS", (FIRMWARE.verifier(),)),
        "dual": Signers("dual", (PUBLISHER.verifier(), SECOND.verifier()), threshold=2),
        "attested": Signers(
            "attested",
            (PUBLISHER.verifier(),),
            builds=MappingProxyType({"1.0.0": digest("attested 1.0.0"), "2.0.0": "0" * 64}),
        ),
    }
    base = {
        "components": MappingProxyType(components),
        "providers": MappingProxyType(
            {"example.com": Signers("example.com", (PROVIDER.verifier(),))}
        ),
        "identities": MappingProxyType({"alice@example.com": frozenset([ALICE.vkey()])}),
    }
    return Rules(**{**base, **overrides})  # type: ignore[arg-type]


def run(entries: list[bytes], r: Rules | None = None) -> list[tuple[int, str, int | None]]:
    memory, out = Memory(), []
    for i, entry in enumerate(entries):
        for v in check_entry(entry, i, TYPES, r or rules(), memory):
            out.append((i, v.rule, v.related))
    return out


def test_releases_in_order_pass() -> None:
    versions = ["0.9.0", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.0.1", "2.0.0"]
    assert run([release("witnessnet", v) for v in versions]) == []


def test_rollback_and_reused_version() -> None:
    entries = [
        release("witnessnet", "2.0.0"),
        release("witnessnet", "1.9.9"),
        release("witnessnet", "2.0.0-rc.1"),
        firmware("TRUSTED_OS", "1.0.0"),
        sign_release_with_digest("witnessnet", "2.0.0", "f" * 64),
    ]
    assert run(entries) == [(1, ROLLBACK, 0), (2, ROLLBACK, 0), (4, ROLLBACK, 0)]


def sign_release_with_digest(component: str, version: str, sha256: str) -> bytes:
    return sign_note(release_text(component, version, "a" * 40, sha256), [PUBLISHER]).to_bytes()


def test_signers() -> None:
    good = parse_note(release("witnessnet", "3.0.0"))
    sig = good.signatures[0]
    forged_note = Note(good.text, (Signature(sig.name, sig.key_id, bytes(64)),)).to_bytes()
    entries = [
        release("witnessnet", "1.0.0", EVIL),  # 0: unknown key
        forged_note,  # 1: an authorised key's signature that fails
        release("nobody", "1.0.0"),  # 2: unknown component
        release("dual", "1.0.0"),  # 3: 1 of 2
        dual_signed("1.0.0"),  # 4: 2 of 2
        release("witnessnet", "0.1.0"),  # 5: not a rollback: 0 and 1 were never accepted
    ]
    assert run(entries) == [
        (0, SIGNER, None),
        (1, SIGNER, None),
        (2, UNKNOWN, None),
        (3, SIGNER, None),
    ]


def dual_signed(version: str) -> bytes:
    text = release_text("dual", version, "a" * 40, digest(f"dual {version}"))
    return sign_note(text, [PUBLISHER, SECOND]).to_bytes()


def test_reproducible_builds() -> None:
    entries = [release("attested", v) for v in ("1.0.0", "2.0.0", "3.0.0")]
    assert run(entries) == [(1, BUILD, None), (2, BUILD, None)]


def test_key_bindings() -> None:
    entries = [
        binding("alice@example.com", ALICE.vkey()),
        binding("bob@example.com", MALLORY.vkey()),  # unwatched: any key
        binding("alice@example.com", MALLORY.vkey()),  # 2: re-bound
        binding("alice@example.com", MALLORY.vkey(), EVIL),  # 3: not the provider's key
    ]
    assert run(entries) == [(2, KEY, None), (3, SIGNER, None)]
    unknown = rules(providers=MappingProxyType({}))
    assert run(entries[:1], unknown) == [(0, UNKNOWN, None)]


def test_module_hashes() -> None:
    entries = [
        gosum("example.com/m", "v1.0.0"),
        gosum("example.com/m", "v1.0.0"),  # the same record again: fine
        gosum("example.com/m", "v1.0.1"),
        gosum("example.com/m", "v1.0.0", "changed"),  # 3: zip hash changed, go.mod the same
    ]
    assert run(entries) == [(3, MODULE, 0)]


def test_malformed_entries() -> None:
    assert run([b"hello", b"{}\n\n"]) == [(0, MALFORMED, None), (1, MALFORMED, None)]


def test_real_firmware_manifest_and_scitt_statements() -> None:
    aw = load("armored-witness-firmware-manifest.txt")
    applet = parse_vkey(aw.line("applet-vkey"))
    r = Rules(components=MappingProxyType({"TRUSTED_APPLET": Signers("TRUSTED_APPLET", (applet,))}))
    assert run([aw["manifest-note"]], r) == []
    other = Rules(
        components=MappingProxyType({"TRUSTED_APPLET": Signers("x", (FIRMWARE.verifier(),))})
    )
    assert run([aw["manifest-note"]], other) == [(0, SIGNER, None)]

    statement = (
        VECTORS_DIR / "scitt-ccf-ledger-signed-statements" / "cts-hashv-cwtclaims-b64url.cose"
    )
    (claim,) = CLAIM_TYPES["scitt"].parse(statement.read_bytes())
    cert = claim.fields["certificate_sha256"]
    trusted = Rules(
        issuers=MappingProxyType(
            {claim.subject: Signers(claim.subject, certificates=frozenset([cert]))}
        )
    )
    assert run([statement.read_bytes()], trusted) == []
    wrong = Rules(
        issuers=MappingProxyType(
            {claim.subject: Signers(claim.subject, certificates=frozenset(["0" * 64]))}
        )
    )
    assert run([statement.read_bytes()], wrong) == [(0, SIGNER, None)]
    assert run([statement.read_bytes()], Rules()) == [(0, UNKNOWN, None)]
