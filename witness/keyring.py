"""The witness's cosigning keys: the current key and, during a rotation, the previous one.

A rotation (docs/witness.md, "Key rotation") has a window: until `previous_until`
(POSIX seconds) every cosignature line the witness makes with its current key
is joined by one from its previous key, so relying parties that still trust the
old vkey keep getting cosignatures while they move to the new one. From the
end of the window on, only the current key signs; no restart is needed.

Both keys carry the witness's name; they differ in key ID.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tlog.cosignature import CosignatureV1Signer
from tlog.errors import TlogError
from tlog.note import Signature
from witness.errors import SignerError


@dataclass(frozen=True)
class KeyRing:
    """What signs cosignatures now. `blocking` keys (an ssh-agent) sign in a worker thread."""

    current: CosignatureV1Signer
    previous: CosignatureV1Signer | None = None
    previous_until: float = 0.0
    clock: Callable[[], float] = time.time

    blocking: bool = field(init=False)

    def __post_init__(self) -> None:
        keys = [self.current] if self.previous is None else [self.current, self.previous]
        # Checked on every cosignature: computed once.
        object.__setattr__(self, "blocking", any(getattr(s.key, "blocking", False) for s in keys))

    def active(self) -> tuple[CosignatureV1Signer, ...]:
        """The keys that cosign at this moment, current first."""
        if self.previous is not None and self.clock() < self.previous_until:
            return (self.current, self.previous)
        return (self.current,)

    def cosign(self, text: bytes) -> bytes:
        """Cosignature lines over checkpoint body `text`, one per active key.

        Raises SignerError if a key cannot sign (an agent that went away).
        """
        timestamp = int(self.clock())
        try:
            return b"".join(
                Signature(s.name, s.key_id, s.sign_at(text, timestamp)).line().encode()
                for s in self.active()
            )
        except (TlogError, OSError) as e:
            raise SignerError(f"cannot cosign: {e}") from None

    def vkeys(self) -> list[str]:
        """The cosignature/v1 vkeys of the active keys, current first."""
        return [s.vkey() for s in self.active()]
