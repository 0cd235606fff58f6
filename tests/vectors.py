"""Byte-exact access to the shared test vectors (format: ../shared/vectors/README.md).

A vector file is `#` header lines, then sections: a line `@@ NAME [comment]` opens a
section whose content is every following line, byte for byte, up to the next `@@ `
line or the end of the file. Sections are keyed by NAME, the first word of the title.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

VECTORS_DIR = Path(__file__).parents[1].parent / "shared" / "vectors"


@dataclass(frozen=True)
class VectorFile:
    """One vector file: its header text and its sections (raw bytes) by name."""

    header: str
    sections: dict[str, bytes]
    titles: dict[str, str]

    def __getitem__(self, name: str) -> bytes:
        return self.sections[name]

    def text(self, name: str) -> str:
        """A section decoded as UTF-8."""
        return self.sections[name].decode("utf-8")

    def line(self, name: str) -> str:
        """A one-line section without its newline (a vkey, a private key, a hex string)."""
        (line,) = self.text(name).splitlines()
        return line

    def lines(self, name: str) -> list[str]:
        """A section's lines without their newlines."""
        return self.text(name).splitlines()


def parse_vector_file(data: bytes) -> VectorFile:
    """Split vector file bytes into header and sections; reject duplicate section names."""
    if not data.endswith(b"\n"):
        raise ValueError("vector file does not end with a newline")
    header: list[bytes] = []
    sections: dict[str, list[bytes]] = {}
    titles: dict[str, str] = {}
    current: list[bytes] | None = None
    # Split on b"\n" only: bytes.splitlines would also split on b"\r".
    for raw in (line + b"\n" for line in data.split(b"\n")[:-1]):
        if raw.startswith(b"@@ "):
            title = raw[3:-1].decode("utf-8")
            name = title.split(" ", 1)[0]
            if name in sections:
                raise ValueError(f"duplicate vector section {name!r}")
            current = sections[name] = []
            titles[name] = title
        elif current is None:
            header.append(raw)
        else:
            current.append(raw)
    return VectorFile(
        header=b"".join(header).decode("utf-8"),
        sections={k: b"".join(v) for k, v in sections.items()},
        titles=titles,
    )


@functools.cache
def load(filename: str) -> VectorFile:
    """Load `filename` from the shared vectors directory (cached)."""
    return parse_vector_file((VECTORS_DIR / filename).read_bytes())


@dataclass(frozen=True)
class VerifiedNote:
    """A VERIFIED signed note from the vectors: the vkeys that verify it and who signed."""

    id: str
    note: bytes
    vkeys: tuple[str, ...]
    signers: tuple[str, ...]


def _cosigner_vkeys(vkeys: list[str]) -> tuple[str, ...]:
    """Witness vkeys (type 0x01 as published) re-encoded as type 0x04 cosigner vkeys."""
    from tlog.cosignature import parse_cosigner_vkey

    return tuple(parse_cosigner_vkey(v).vkey() for v in vkeys)


def _argon2024_note(v: VectorFile) -> bytes:
    """The argon2024 get-sth JSON as a checkpoint note with its type 0x05 signature."""
    import base64
    import json

    from tlog.keys import parse_vkey

    sth = json.loads(v.text("argon2024-get-sth-json"))
    verifier = parse_vkey(v.line("vkey-argon2024"))
    body = f"{verifier.name}\n{sth['tree_size']}\n{sth['sha256_root_hash']}\n"
    blob = (
        verifier.key_id.to_bytes(4, "big")
        + sth["timestamp"].to_bytes(8, "big")
        + base64.b64decode(sth["tree_head_signature"])
    )
    return f"{body}\n— {verifier.name} {base64.b64encode(blob).decode()}\n".encode()


def litewitness_checkpoint(v: VectorFile, request: str) -> bytes:
    """The checkpoint note of a tlog-witness add-checkpoint request body."""
    return v[request].split(b"\n\n", 1)[1]


def litewitness_vkey(v: VectorFile) -> str:
    """The log vkey named in the litewitness vector file's header."""
    (vkey,) = (w for w in v.header.split() if w.startswith("sigsum.org/v1/tree/") and "+" in w)
    return vkey


def sigsum_seed(v: VectorFile) -> bytes:
    """The Ed25519 seed of the Sigsum test key 17."""
    return bytes.fromhex(v.line("test-seed-hex"))


def verified_notes() -> list[VerifiedNote]:
    """Every signed note the vectors mark VERIFIED, with the keys that verify it."""
    from tlog.cosignature import CosignatureV1Signer
    from tlog.keys import Ed25519Signer

    c2sp = load("c2sp-signed-note-example.txt")
    xmod = load("xmod-note-peterneumann.txt")
    sumdb = load("sumdb-checkpoints.txt")
    ct = load("static-ct-rfc6962-notes.txt")
    aw = load("armored-witness-cosigned-checkpoints.txt")
    monkeys = load("monkeys-consistency-5-to-8.txt")
    sigsum = load("sigsum-testkey17-checkpoint-and-cosignature.txt")
    lite = load("litewitness-add-checkpoint-sequence.txt")

    peter, enoch = xmod.line("vkey-peter"), xmod.line("vkey-enoch")
    aw_witnesses = _cosigner_vkeys(aw.lines("armored-witness-prod-vkeys"))
    seed = sigsum_seed(sigsum)
    sigsum_origin = sigsum.lines("sigsum-checkpoint")[0]
    witness17 = CosignatureV1Signer(Ed25519Signer("example.org/witness", seed))
    cosigned17 = sigsum["cosigned-body"] + b"\n" + sigsum.text("cosignature-lines").encode()
    return [
        VerifiedNote("c2sp-example", c2sp["note"], (c2sp.line("vkey"),), ("example.com/foo",)),
        VerifiedNote("xmod-peter", xmod["signed-note-peter"], (peter,), ("PeterNeumann",)),
        VerifiedNote(
            "xmod-both", xmod["signed-note-both"], (peter, enoch), ("PeterNeumann", "EnochRoot")
        ),
        VerifiedNote("xmod-both-enoch-only", xmod["signed-note-both"], (enoch,), ("EnochRoot",)),
        *(
            VerifiedNote(f"sumdb-{cp}", sumdb[cp], (sumdb.line("vkey"),), ("sum.golang.org",))
            for cp in ("cp-35225469", "cp-6476701", "cp-30055305")
        ),
        VerifiedNote(
            "sumdb-multisig",
            sumdb["cp-6476701-multisig"],
            (sumdb.line("vkey"), *sumdb.lines("extra-vkeys")),
            ("sum.golang.org", "monkeys", "bananas", "witness"),
        ),
        VerifiedNote(
            "static-ct-rome",
            ct["checkpoint-rome"],
            (ct.line("vkey-rome"),),
            ("rome.ct.filippo.io/2024h1",),
        ),
        VerifiedNote(
            "static-ct-argon2024-sth",
            _argon2024_note(ct),
            (ct.line("vkey-argon2024"),),
            ("ct.googleapis.com/logs/us1/argon2024",),
        ),
        VerifiedNote(
            "aw-pixel-611-log",
            aw["pixel-611"],
            (aw.line("pixel-log-vkey"),),
            ("pixel_transparency_log",),
        ),
        VerifiedNote(
            "aw-pixel-611-cosignatures",
            aw["pixel-611"],
            aw_witnesses,
            ("ArmoredWitness-small-breeze", "ArmoredWitness-autumn-wood"),
        ),
        VerifiedNote(
            "aw-ftlog-ci-3-59-log",
            aw["aw-ftlog-ci-3-59"],
            (aw.line("aw-ftlog-ci-3-vkey"),),
            ("transparency.dev-aw-ftlog-ci-3",),
        ),
        VerifiedNote(
            "aw-ftlog-ci-3-59-cosignatures",
            aw["aw-ftlog-ci-3-59"],
            aw_witnesses,
            ("ArmoredWitness-weathered-rain", "ArmoredWitness-floral-sky"),
        ),
        *(
            VerifiedNote(f"monkeys-{cp}", monkeys[cp], (monkeys.line("log-vkey"),), ("monkeys",))
            for cp in ("checkpoint-5", "checkpoint-8")
        ),
        VerifiedNote(
            "sigsum-testkey17-checkpoint",
            sigsum["sigsum-checkpoint"],
            (Ed25519Signer(sigsum_origin, seed).vkey(),),
            (sigsum_origin,),
        ),
        VerifiedNote(
            "sigsum-testkey17-cosignature-line-2",
            # Lines 1 and 3 are from unknown keys and are ignored; line 4 (a known
            # key's malformed signature) would reject the note and is left out here.
            b"".join(cosigned17.splitlines(keepends=True)[:-1]),
            (witness17.vkey(),),
            ("example.org/witness",),
        ),
        *(
            # The log-signed checkpoints of sizes 1, 3 and 5 (the other requests repeat
            # them or carry deliberately corrupted signatures or origins).
            VerifiedNote(
                f"litewitness-{r}-checkpoint",
                litewitness_checkpoint(lite, r),
                (litewitness_vkey(lite),),
                (litewitness_vkey(lite).split("+")[0],),
            )
            for r in ("request-1", "request-6", "request-8")
        ),
    ]
