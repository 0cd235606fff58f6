"""Evidence files: self-verifying proof that a log or a witness misbehaved.

The format (docs/evidence-format.md has the byte-level grammar and an example)
is UTF-8 text: a header line `witnessnet-evidence/v1`, a `kind` line, then
`keyword value` lines. Signed notes are embedded byte for byte after a line
`<keyword> <decimal byte length>`. Kinds:

- same-size-different-roots: two checkpoints of one log, same origin and size,
  different roots, both signed by the log. A log signs one tree per size.
- inconsistent-sizes: checkpoints of sizes n < m and an RFC 9162 consistency
  proof. Run from the size-m side, the proof reproduces the larger root, so by
  collision resistance its hashes are the true subtree hashes of the size-m
  tree; the root it yields for the first n leaves differs from the signed
  size-n root. When n is a power of two the RFC 9162 verifier takes the old
  root as an input instead of computing it, so the proof alone can never show
  a difference: the file then carries `prefix-root`, the hash of the first n
  leaves of the size-m tree (from the log's tiles or entries), and the proof
  must reproduce the larger root starting from it.
- witness-equivocation: a witness cosigned both checkpoints of an embedded
  same-size-different-roots or inconsistent-sizes file. An honest witness
  never cosigns two inconsistent checkpoints.
- suspicion: a witness's signed report that a log did not produce a needed
  consistency proof. It is never proof: verify_evidence rejects it with
  SuspicionNotProofError.

Witnesses are named by the key name in their vkey (the name on their
cosignature lines), not by any network-local name.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from gossip.errors import (
    MalformedEvidenceError,
    NotProofError,
    SuspicionNotProofError,
)
from tlog.checkpoint import Checkpoint, parse_checkpoint
from tlog.cosignature import CosignatureV1Verifier
from tlog.errors import CheckpointError, MalformedNoteError, MalformedProofError, NoteError
from tlog.keys import Ed25519NoteSigner, Ed25519Verifier, tree_hash_rule
from tlog.merkle import roots_from_consistency_proof
from tlog.note import Note, Verifier, is_valid_key_name, parse_note, verify_note

HEADER = "witnessnet-evidence/v1"
SUSPICION_DOMAIN = b"witnessnet/suspicion/v1\n"
MAX_EVIDENCE_BYTES = 1 << 20
MAX_PROOF_HASHES = 64
MAX_DETAIL_BYTES = 1000
MAX_INT = (1 << 63) - 1
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


class Kind(enum.Enum):
    """The kinds of evidence file; `value` is the word on the `kind` line."""

    SAME_SIZE = "same-size-different-roots"
    INCONSISTENT_SIZES = "inconsistent-sizes"
    WITNESS_EQUIVOCATION = "witness-equivocation"
    SUSPICION = "suspicion"


class Reason(enum.Enum):
    """Why a witness suspects a log; `value` is the word on the `reason` line."""

    NO_PROOF = "no-proof"
    BAD_PROOF = "bad-proof"


_REASON_TEXT = {
    Reason.NO_PROOF: "did not produce a consistency proof",
    Reason.BAD_PROOF: "served only consistency proofs that do not verify",
}


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode("ascii")


def is_power_of_two(n: int) -> bool:
    """True for 1, 2, 4, ...: the sizes whose proofs omit the old root."""
    return n > 0 and n & (n - 1) == 0


@dataclass(frozen=True, slots=True)
class Embedded:
    """A signed checkpoint note embedded in a file: its exact bytes, parsed."""

    raw: bytes
    note: Note
    checkpoint: Checkpoint

    @classmethod
    def parse(cls, raw: bytes, what: str) -> Embedded:
        """Parse note bytes and the checkpoint in them; raise MalformedEvidenceError."""
        try:
            note = parse_note(raw)
            return cls(raw, note, parse_checkpoint(note.text))
        except (MalformedNoteError, CheckpointError) as e:
            raise MalformedEvidenceError(f"{what}: {e}") from None


def _line(keyword: str, value: str) -> bytes:
    return f"{keyword} {value}\n".encode()


def _blob(keyword: str, data: bytes) -> bytes:
    return _line(keyword, str(len(data))) + data


def _header(kind: Kind) -> bytes:
    return f"{HEADER}\nkind {kind.value}\n".encode()


@dataclass(frozen=True, slots=True)
class SameSizeFile:
    """Kind same-size-different-roots: `first` has the smaller root (bytewise)."""

    KIND: ClassVar[Kind] = Kind.SAME_SIZE
    first: Embedded
    second: Embedded

    def pair(self) -> tuple[Embedded, Embedded]:
        return self.first, self.second

    def to_bytes(self) -> bytes:
        return (
            _header(self.KIND)
            + _blob("checkpoint", self.first.raw)
            + _blob("checkpoint", self.second.raw)
        )


@dataclass(frozen=True, slots=True)
class InconsistentSizesFile:
    """Kind inconsistent-sizes: `prefix_root` is present iff the smaller size is a power of 2."""

    KIND: ClassVar[Kind] = Kind.INCONSISTENT_SIZES
    smaller: Embedded
    larger: Embedded
    prefix_root: bytes | None
    proof: tuple[bytes, ...]

    def pair(self) -> tuple[Embedded, Embedded]:
        return self.smaller, self.larger

    def to_bytes(self) -> bytes:
        prefix = b"" if self.prefix_root is None else _line("prefix-root", _b64(self.prefix_root))
        return (
            _header(self.KIND)
            + _blob("checkpoint", self.smaller.raw)
            + _blob("checkpoint", self.larger.raw)
            + prefix
            + b"".join(_line("proof", _b64(h)) for h in self.proof)
        )


ForkFile = SameSizeFile | InconsistentSizesFile


@dataclass(frozen=True, slots=True)
class EquivocationFile:
    """Kind witness-equivocation: `first` and `second` are the witness's cosigned notes of
    the two checkpoints of `evidence`, in its order."""

    KIND: ClassVar[Kind] = Kind.WITNESS_EQUIVOCATION
    witness: str
    first: Embedded
    second: Embedded
    evidence: ForkFile

    def to_bytes(self) -> bytes:
        return (
            _header(self.KIND)
            + _line("witness", self.witness)
            + _blob("cosigned", self.first.raw)
            + _blob("cosigned", self.second.raw)
            + _blob("evidence", self.evidence.to_bytes())
        )


@dataclass(frozen=True, slots=True)
class SuspicionFile:
    """Kind suspicion: signed by `reporter` over SUSPICION_DOMAIN || signed_part()."""

    KIND: ClassVar[Kind] = Kind.SUSPICION
    reporter: str
    time: int
    reason: Reason
    attempts: int
    detail: str
    smaller: Embedded
    larger: Embedded
    signature: bytes

    def signed_part(self) -> bytes:
        """Every byte of the file before the `signature` line."""
        return (
            _header(self.KIND)
            + _line("reporter", self.reporter)
            + _line("time", str(self.time))
            + _line("reason", self.reason.value)
            + _line("attempts", str(self.attempts))
            + _line("detail", self.detail)
            + _blob("checkpoint", self.smaller.raw)
            + _blob("checkpoint", self.larger.raw)
        )

    def to_bytes(self) -> bytes:
        return self.signed_part() + _line("signature", _b64(self.signature))


EvidenceFile = SameSizeFile | InconsistentSizesFile | EquivocationFile | SuspicionFile


class _Reader:
    """Reads `keyword value` lines and length-prefixed blobs, strictly."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.lineno = 0

    def _where(self) -> str:
        return f"line {self.lineno}"

    def line(self) -> str:
        end = self.data.find(b"\n", self.pos)
        if end < 0:
            raise MalformedEvidenceError(f"line {self.lineno + 1}: missing or unterminated line")
        raw, self.pos = self.data[self.pos : end], end + 1
        self.lineno += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise MalformedEvidenceError(f"{self._where()}: not UTF-8 at byte {e.start}") from None
        m = _CONTROL.search(text)
        if m:
            raise MalformedEvidenceError(
                f"{self._where()}: control character U+{ord(m[0]):04X} is not allowed"
            )
        return text

    def peek(self, keyword: str) -> bool:
        return self.data.startswith(keyword.encode() + b" ", self.pos)

    def field(self, keyword: str) -> str:
        text = self.line()
        if not text.startswith(keyword + " "):
            raise MalformedEvidenceError(f"{self._where()}: want '{keyword} ...', got {text!r}")
        return text[len(keyword) + 1 :]

    def number(self, keyword: str) -> int:
        value = self.field(keyword)
        if not _DECIMAL.fullmatch(value) or int(value) > MAX_INT:
            raise MalformedEvidenceError(
                f"{self._where()}: {keyword} {value!r} is not a decimal number "
                "without leading zeros, at most 2^63-1"
            )
        return int(value)

    def b64(self, keyword: str, size: int = 32) -> bytes:
        value = self.field(keyword)
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedEvidenceError(f"{self._where()}: {keyword} is not base64") from None
        if len(raw) != size or _b64(raw) != value:
            raise MalformedEvidenceError(
                f"{self._where()}: {keyword} is not canonical base64 of {size} bytes"
            )
        return raw

    def blob(self, keyword: str) -> bytes:
        n = self.number(keyword)
        if n > len(self.data) - self.pos:
            raise MalformedEvidenceError(
                f"{self._where()}: {keyword} of {n} bytes runs past the end of the file"
            )
        raw = self.data[self.pos : self.pos + n]
        self.pos += n
        self.lineno += raw.count(b"\n")
        return raw

    def embedded(self, keyword: str, what: str) -> Embedded:
        return Embedded.parse(self.blob(keyword), f"{what} (ending on line {self.lineno})")

    def end(self) -> None:
        if self.pos != len(self.data):
            raise MalformedEvidenceError(f"line {self.lineno + 1}: unexpected data after the end")


def _parse_same_size(r: _Reader) -> SameSizeFile:
    first = r.embedded("checkpoint", "checkpoint 1")
    f = SameSizeFile(first, r.embedded("checkpoint", "checkpoint 2"))
    if f.first.checkpoint.root > f.second.checkpoint.root:
        raise MalformedEvidenceError("checkpoints are not in order: the smaller root comes first")
    return f


def _parse_inconsistent(r: _Reader) -> InconsistentSizesFile:
    smaller = r.embedded("checkpoint", "checkpoint 1")
    larger = r.embedded("checkpoint", "checkpoint 2")
    if smaller.checkpoint.size > larger.checkpoint.size:
        raise MalformedEvidenceError("checkpoints are not in order: the smaller size comes first")
    pow2 = is_power_of_two(smaller.checkpoint.size)
    if pow2 != r.peek("prefix-root"):
        raise MalformedEvidenceError(
            "a prefix-root line is required when the smaller size is a power of two, "
            "and not allowed otherwise"
        )
    prefix = r.b64("prefix-root") if pow2 else None
    proof: list[bytes] = []
    while r.peek("proof"):
        if len(proof) == MAX_PROOF_HASHES:
            raise MalformedEvidenceError(f"more than {MAX_PROOF_HASHES} proof lines")
        proof.append(r.b64("proof"))
    return InconsistentSizesFile(smaller, larger, prefix, tuple(proof))


def _parse_equivocation(r: _Reader) -> EquivocationFile:
    witness = r.field("witness")
    if not is_valid_key_name(witness):
        raise MalformedEvidenceError(f"line {r.lineno}: invalid witness name {witness!r}")
    first = r.embedded("cosigned", "cosigned checkpoint 1")
    second = r.embedded("cosigned", "cosigned checkpoint 2")
    sub = _parse(r.blob("evidence"))
    if not isinstance(sub, SameSizeFile | InconsistentSizesFile):
        raise MalformedEvidenceError(
            "embedded evidence must be same-size-different-roots or inconsistent-sizes"
        )
    return EquivocationFile(witness, first, second, sub)


def _parse_suspicion(r: _Reader) -> SuspicionFile:
    reporter = r.field("reporter")
    if not is_valid_key_name(reporter):
        raise MalformedEvidenceError(f"line {r.lineno}: invalid reporter name {reporter!r}")
    time = r.number("time")
    reason_word = r.field("reason")
    try:
        reason = Reason(reason_word)
    except ValueError:
        want = ", ".join(x.value for x in Reason)
        raise MalformedEvidenceError(
            f"line {r.lineno}: unknown reason {reason_word!r} (want one of {want})"
        ) from None
    attempts = r.number("attempts")
    detail = r.field("detail")
    if len(detail.encode()) > MAX_DETAIL_BYTES:
        raise MalformedEvidenceError(f"line {r.lineno}: detail over {MAX_DETAIL_BYTES} bytes")
    smaller = r.embedded("checkpoint", "checkpoint 1")
    larger = r.embedded("checkpoint", "checkpoint 2")
    if smaller.checkpoint.size >= larger.checkpoint.size:
        raise MalformedEvidenceError("checkpoints are not in order: the smaller size comes first")
    signature = r.b64("signature", 64)
    return SuspicionFile(reporter, time, reason, attempts, detail, smaller, larger, signature)


_PARSERS: dict[Kind, Callable[[_Reader], EvidenceFile]] = {
    Kind.SAME_SIZE: _parse_same_size,
    Kind.INCONSISTENT_SIZES: _parse_inconsistent,
    Kind.WITNESS_EQUIVOCATION: _parse_equivocation,
    Kind.SUSPICION: _parse_suspicion,
}


def _parse(data: bytes) -> EvidenceFile:
    r = _Reader(data)
    header = r.line()
    if header != HEADER:
        raise MalformedEvidenceError(f"line 1: want {HEADER!r}, got {header[:64]!r}")
    word = r.field("kind")
    try:
        kind = Kind(word)
    except ValueError:
        want = ", ".join(k.value for k in Kind)
        raise MalformedEvidenceError(
            f"line 2: unknown kind {word!r} (want one of {want})"
        ) from None
    f = _PARSERS[kind](r)
    r.end()
    return f


def parse_evidence(data: bytes) -> EvidenceFile:
    """Parse an evidence file without checking any signature; raise MalformedEvidenceError."""
    if len(data) > MAX_EVIDENCE_BYTES:
        raise MalformedEvidenceError(f"file is {len(data)} bytes, over {MAX_EVIDENCE_BYTES}")
    return _parse(data)


def evidence_origin(f: EvidenceFile) -> str:
    """The origin of the log the file is about (of its first checkpoint)."""
    if isinstance(f, EquivocationFile):
        f = f.evidence
    first = f.first if isinstance(f, SameSizeFile) else f.smaller
    return first.checkpoint.origin


# Verification.


@dataclass(frozen=True, slots=True)
class VerifiedEvidence:
    """Genuine proof. `first` and `second` are the inconsistent checkpoints, in file order.

    `basis` is the kind of the embedded evidence for witness-equivocation;
    `prefix_root` the root of the first `first.size` leaves of the larger tree
    (inconsistent-sizes); `witness` the key name of the equivocating witness.
    """

    kind: Kind
    origin: str
    first: Checkpoint
    second: Checkpoint
    basis: Kind
    prefix_root: bytes | None = None
    witness: str | None = None

    @property
    def fingerprint(self) -> str:
        """Hex SHA-256 naming what is proven; equal for files proving the same thing."""
        parts = [
            self.kind.value,
            self.origin,
            str(self.first.size),
            _b64(self.first.root),
            str(self.second.size),
            _b64(self.second.root),
            self.witness or "",
        ]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def explain(self) -> str:
        """One paragraph for a human: what is proven and why."""
        a, b = self.first, self.second
        if self.basis is Kind.SAME_SIZE:
            fork = (
                f"the log {self.origin} signed two different trees of the same size {a.size}: "
                f"root {_b64(a.root)} and root {_b64(b.root)}. A log signs exactly one tree per "
                "size, so it has shown different histories to different parties (a split view)."
            )
        else:
            fork = (
                f"the log {self.origin} signed a tree of size {a.size} with root {_b64(a.root)} "
                f"and a tree of size {b.size} with root {_b64(b.root)}. The consistency proof "
                f"reproduces the size-{b.size} root, and in that tree the first {a.size} entries "
                f"have root {_b64(self.prefix_root or b'')}, not the signed one: the smaller tree "
                "is not a prefix of the larger, so the log rewrote or forked its history."
            )
        if self.kind is Kind.WITNESS_EQUIVOCATION:
            return (
                f"PROOF OF WITNESS EQUIVOCATION: witness {self.witness} cosigned both "
                f"checkpoints, although {fork} An honest witness never cosigns two "
                "inconsistent checkpoints. Anyone holding the log's and the witness's public "
                "keys can check this offline."
            )
        return (
            f"PROOF OF LOG MISBEHAVIOUR: {fork} Both checkpoints carry valid signatures by the "
            "log's key; anyone holding that public key can check this offline."
        )


def _check_log_signed(e: Embedded, log_verifiers: Sequence[Verifier], what: str) -> None:
    try:
        verify_note(e.note, log_verifiers)
    except NoteError as ex:
        raise NotProofError(f"{what} is not signed by the log key given: {ex}") from None


def _verify_pair(first: Embedded, second: Embedded, log_verifiers: Sequence[Verifier]) -> None:
    _check_log_signed(first, log_verifiers, "checkpoint 1")
    _check_log_signed(second, log_verifiers, "checkpoint 2")
    if first.checkpoint.origin != second.checkpoint.origin:
        raise NotProofError(
            f"the checkpoints have different origins, {first.checkpoint.origin!r} and "
            f"{second.checkpoint.origin!r}: they are not two views of one log"
        )


def _verify_same_size(f: SameSizeFile, log_verifiers: Sequence[Verifier]) -> VerifiedEvidence:
    _verify_pair(f.first, f.second, log_verifiers)
    a, b = f.first.checkpoint, f.second.checkpoint
    if a.size != b.size:
        raise NotProofError(f"sizes {a.size} and {b.size} differ: this is not a same-size fork")
    if a.size == 0:
        raise NotProofError("both checkpoints are of the empty tree, which has no entries")
    if a.root == b.root:
        raise NotProofError(f"both checkpoints have root {_b64(a.root)}: they agree")
    return VerifiedEvidence(f.KIND, a.origin, a, b, f.KIND)


def _verify_inconsistent(
    f: InconsistentSizesFile, log_verifiers: Sequence[Verifier]
) -> VerifiedEvidence:
    _verify_pair(f.smaller, f.larger, log_verifiers)
    a, b = f.smaller.checkpoint, f.larger.checkpoint
    if a.size == b.size:
        raise NotProofError(f"both checkpoints have size {a.size}: use same-size-different-roots")
    if a.size == 0:
        raise NotProofError("the empty tree is a prefix of every tree: size 0 proves nothing")
    start = a.root if f.prefix_root is None else f.prefix_root
    try:
        rule = tree_hash_rule(log_verifiers)  # the log's key type fixes its hash rule
        prefix, root = roots_from_consistency_proof(a.size, b.size, start, f.proof, rule)
    except MalformedProofError as e:
        raise MalformedEvidenceError(f"consistency proof: {e}") from None
    if root != b.root:
        raise NotProofError(
            f"the consistency proof yields root {_b64(root)} for size {b.size}, not the signed "
            f"{_b64(b.root)}: a proof that does not reproduce the larger root proves nothing"
        )
    if prefix == a.root:
        raise NotProofError(
            f"the consistency proof shows that size {a.size} is a prefix of size {b.size}: "
            "the checkpoints are consistent"
        )
    return VerifiedEvidence(f.KIND, a.origin, a, b, f.KIND, prefix_root=prefix)


def _verify_fork(f: ForkFile, log_verifiers: Sequence[Verifier]) -> VerifiedEvidence:
    if isinstance(f, SameSizeFile):
        return _verify_same_size(f, log_verifiers)
    return _verify_inconsistent(f, log_verifiers)


def _verify_equivocation(
    f: EquivocationFile, log_verifiers: Sequence[Verifier], witness_verifiers: Sequence[Verifier]
) -> VerifiedEvidence:
    fork = _verify_fork(f.evidence, log_verifiers)
    keys = [v for v in witness_verifiers if v.name == f.witness]
    if not keys:
        raise NotProofError(
            f"no key given for witness {f.witness}: pass its vkey to check its cosignatures"
        )
    pairs = zip((f.first, f.second), f.evidence.pair(), strict=True)
    for i, (cosigned, signed) in enumerate(pairs, 1):
        if cosigned.note.text != signed.note.text:
            raise NotProofError(
                f"cosigned checkpoint {i} is not checkpoint {i} of the embedded evidence"
            )
        try:
            verify_note(cosigned.note, keys)
        except NoteError as e:
            raise NotProofError(
                f"cosigned checkpoint {i} has no valid cosignature by {f.witness}: {e}"
            ) from None
    return VerifiedEvidence(
        f.KIND,
        fork.origin,
        fork.first,
        fork.second,
        fork.basis,
        prefix_root=fork.prefix_root,
        witness=f.witness,
    )


def _raw_key(witness: str, witness_verifiers: Iterable[Verifier]) -> bytes | None:
    return next(
        (
            v.public
            for v in witness_verifiers
            if v.name == witness and isinstance(v, CosignatureV1Verifier | Ed25519Verifier)
        ),
        None,
    )


def _suspicion_signature_ok(f: SuspicionFile, public: bytes) -> bool:
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(
            f.signature, SUSPICION_DOMAIN + f.signed_part()
        )
    except InvalidSignature:
        return False
    return True


def describe_suspicion(f: SuspicionFile, witness_verifiers: Sequence[Verifier] = ()) -> str:
    """One paragraph saying what the suspicion reports and whether its signature verifies."""
    public = _raw_key(f.reporter, witness_verifiers)
    if public is None:
        status = f"its signature was not checked (no Ed25519 key given for {f.reporter})"
    elif _suspicion_signature_ok(f, public):
        status = f"its signature by {f.reporter} verifies"
    else:
        status = f"its signature does NOT verify with the key given for {f.reporter}"
    a, b = f.smaller.checkpoint, f.larger.checkpoint
    return (
        f"NOT PROOF: this is a suspicion. Witness {f.reporter} reported at time {f.time} that "
        f"the log {a.origin} {_REASON_TEXT[f.reason]} from size {a.size} to size {b.size} "
        f"after {f.attempts} attempts ({f.detail or 'no detail'}); {status}. A slow, "
        "overloaded or offline log looks the same, so this warrants attention, not an accusation."
    )


def verify_suspicion(
    data: bytes, witness_verifiers: Sequence[Verifier], log_verifiers: Sequence[Verifier]
) -> SuspicionFile:
    """A suspicion whose reporter signature and log signatures verify.

    Raises MalformedEvidenceError, or NotProofError when a signature does not verify.
    """
    f = parse_evidence(data)
    if not isinstance(f, SuspicionFile):
        raise MalformedEvidenceError(f"file is of kind {f.KIND.value}, not a suspicion")
    public = _raw_key(f.reporter, witness_verifiers)
    if public is None:
        raise NotProofError(f"no Ed25519 key given for the reporter {f.reporter}")
    if not _suspicion_signature_ok(f, public):
        raise NotProofError(f"the suspicion's signature by {f.reporter} does not verify")
    _verify_pair(f.smaller, f.larger, log_verifiers)
    return f


def verify_evidence(
    data: bytes, log_verifiers: Sequence[Verifier], witness_verifiers: Sequence[Verifier] = ()
) -> VerifiedEvidence:
    """Verify an evidence file offline with the log's keys (and the witness's, for kind 3).

    Returns only for genuine proof. Raises MalformedEvidenceError for bytes that
    do not follow the format, SuspicionNotProofError for a suspicion record and
    NotProofError for anything else that does not prove misbehaviour.
    """
    f = parse_evidence(data)
    if isinstance(f, SuspicionFile):
        raise SuspicionNotProofError(describe_suspicion(f, witness_verifiers))
    if isinstance(f, EquivocationFile):
        return _verify_equivocation(f, log_verifiers, witness_verifiers)
    return _verify_fork(f, log_verifiers)


# Construction.


def _keep_signed(raw: bytes, verifiers: Sequence[Verifier], what: str) -> Embedded:
    """The note with only the signature lines of `verifiers`, which must verify."""
    e = Embedded.parse(raw, what)
    try:
        verify_note(e.note, verifiers)
    except NoteError as ex:
        raise NotProofError(f"{what}: {ex}") from None
    known = {(v.name, v.key_id) for v in verifiers}
    note = Note(e.note.text, tuple(s for s in e.note.signatures if (s.name, s.key_id) in known))
    return Embedded(note.to_bytes(), note, e.checkpoint)


def build_same_size(a: bytes, b: bytes, log_verifiers: Sequence[Verifier]) -> bytes:
    """A same-size-different-roots file from two log-signed notes, in either order.

    Signature lines other than the log's are dropped. Raises NotProofError
    unless the result is genuine proof.
    """
    ea = _keep_signed(a, log_verifiers, "checkpoint")
    eb = _keep_signed(b, log_verifiers, "checkpoint")
    first, second = sorted((ea, eb), key=lambda e: e.checkpoint.root)
    data = SameSizeFile(first, second).to_bytes()
    verify_evidence(data, log_verifiers)
    return data


def build_inconsistent_sizes(
    a: bytes,
    b: bytes,
    proof: Sequence[bytes],
    log_verifiers: Sequence[Verifier],
    prefix_root: bytes | None = None,
) -> bytes:
    """An inconsistent-sizes file from two log-signed notes (either order) and the proof.

    `proof` is the RFC 9162 consistency proof from the smaller size to the
    larger, computed from the larger tree. When the smaller size is a power of
    two, `prefix_root` must be the root of the first n leaves of the larger
    tree. Raises NotProofError unless the result is genuine proof.
    """
    ea = _keep_signed(a, log_verifiers, "checkpoint")
    eb = _keep_signed(b, log_verifiers, "checkpoint")
    smaller, larger = sorted((ea, eb), key=lambda e: e.checkpoint.size)
    if is_power_of_two(smaller.checkpoint.size) and prefix_root is None:
        raise NotProofError(
            f"size {smaller.checkpoint.size} is a power of two: a consistency proof cannot show "
            "inconsistency without the root of that prefix of the larger tree (prefix_root)"
        )
    if not is_power_of_two(smaller.checkpoint.size):
        prefix_root = None
    data = InconsistentSizesFile(smaller, larger, prefix_root, tuple(proof)).to_bytes()
    verify_evidence(data, log_verifiers)
    return data


def build_witness_equivocation(
    evidence: bytes,
    cosigned: Sequence[bytes],
    witness: Verifier,
    log_verifiers: Sequence[Verifier],
) -> bytes:
    """A witness-equivocation file: `witness` cosigned both checkpoints of `evidence`.

    `cosigned` holds notes of the two checkpoint bodies (any order, any other
    signatures), each with a cosignature by `witness`; only those lines are kept.
    """
    fork = parse_evidence(evidence)
    if not isinstance(fork, SameSizeFile | InconsistentSizesFile):
        raise MalformedEvidenceError(f"cannot base equivocation on kind {fork.KIND.value}")
    notes = [_keep_signed(raw, [witness], "cosigned checkpoint") for raw in cosigned]
    pair = []
    for signed in fork.pair():
        match = next((n for n in notes if n.note.text == signed.note.text), None)
        if match is None:
            raise NotProofError(f"no cosigned note of checkpoint {signed.checkpoint.size}")
        pair.append(match)
    data = EquivocationFile(witness.name, pair[0], pair[1], fork).to_bytes()
    verify_evidence(data, log_verifiers, [witness])
    return data


def build_suspicion(
    signer: Ed25519NoteSigner,
    reason: Reason,
    attempts: int,
    detail: str,
    a: bytes,
    b: bytes,
    log_verifiers: Sequence[Verifier],
    time: int,
) -> bytes:
    """A suspicion signed by `signer` (a witness key) about two log-signed notes."""
    ea = _keep_signed(a, log_verifiers, "checkpoint")
    eb = _keep_signed(b, log_verifiers, "checkpoint")
    smaller, larger = sorted((ea, eb), key=lambda e: e.checkpoint.size)
    unsigned = SuspicionFile(
        signer.name, time, reason, attempts, detail, smaller, larger, bytes(64)
    )
    signature = signer.sign_raw(SUSPICION_DOMAIN + unsigned.signed_part())
    data = SuspicionFile(
        signer.name, time, reason, attempts, detail, smaller, larger, signature
    ).to_bytes()
    parse_evidence(data)
    return data
