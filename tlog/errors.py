"""The exception hierarchy of the tlog core.

Every malformed input and every failed check raises a subclass of TlogError,
carrying a message that says what was wrong and where. Callers catch at the
level they care about: a witness maps NoteError to 403 and ProofError to 422.
"""


class TlogError(ValueError):
    """Base of every error raised by tlog on bad input or a failed check."""


class EncodingError(TlogError):
    """Bytes that are not the text encoding a format requires (UTF-8, base64, decimal)."""


class NoteError(TlogError):
    """A signed note that cannot be accepted."""


class MalformedNoteError(NoteError):
    """A note whose bytes do not follow the C2SP signed-note grammar."""


class UnverifiedNoteError(NoteError):
    """No signature from a known key verified."""


class InvalidSignatureError(NoteError):
    """A signature from a known key failed to verify: the whole note is rejected."""


class KeyMaterialError(TlogError):
    """A verifier key, signer key or key file that is malformed or unusable."""


class MalformedKeyError(KeyMaterialError):
    """A vkey or private key string that does not parse."""


class UnsupportedAlgorithmError(KeyMaterialError):
    """A signature type this build cannot verify (never a silent pass)."""


class CheckpointError(TlogError):
    """A checkpoint body that does not follow C2SP tlog-checkpoint."""


class ProofError(TlogError):
    """A Merkle proof that does not verify."""


class MalformedProofError(ProofError):
    """A proof that is structurally wrong (length, hash size, indices)."""


class TileError(TlogError):
    """A tile, tile path or entry bundle that does not follow C2SP tlog-tiles."""


class PolicyError(TlogError):
    """A tlog-policy file that does not parse, or a quorum that is not met."""


class MalformedPolicyError(PolicyError):
    """A policy file with a syntax or reference error (the message names the line)."""


class QuorumNotMetError(PolicyError):
    """A checkpoint whose cosignatures do not satisfy the policy's quorum."""
