"""The log side of C2SP tlog-witness: ask a witness to cosign a checkpoint.

`build_add_checkpoint_body` and `parse_cosignatures` are pure; `WitnessClient`
is the httpx shell. On 409 the witness tells us the size it last cosigned; the
client fetches a consistency proof from that size and retries, so a log never
needs to remember what each witness has seen.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from tlog.checkpoint import parse_size
from tlog.errors import NoteError, TlogError
from tlog.note import Note, Signature, Verifier, parse_signature_line, verify_note

SIZE_CONTENT_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63
MAX_RESPONSE_BYTES = 64 * 1024

ProofSource = Callable[[int, int], Awaitable[Sequence[bytes]]]


class WitnessClientError(TlogError):
    """A witness that did not cosign."""


class WitnessRejectedError(WitnessClientError):
    """The witness answered with an error status; `status` and `reason` say which."""

    def __init__(self, url: str, status: int, reason: str) -> None:
        super().__init__(f"witness {url} answered {status}: {reason}")
        self.status = status
        self.reason = reason


class WitnessUnavailableError(WitnessClientError):
    """The witness could not be reached or timed out."""


def build_add_checkpoint_body(old_size: int, proof: Sequence[bytes], note: bytes) -> bytes:
    """The add-checkpoint request body: `old N`, proof lines, a blank line, the note."""
    if len(proof) > MAX_PROOF_LINES:
        raise WitnessClientError(f"proof has {len(proof)} hashes, over {MAX_PROOF_LINES}")
    lines = [f"old {old_size}\n".encode()]
    lines += [base64.b64encode(h) + b"\n" for h in proof]
    return b"".join(lines) + b"\n" + note


def parse_cosignatures(body: bytes, note: Note, witness: Verifier) -> list[Signature]:
    """The witness's valid cosignatures in a 200 response body.

    Lines from other keys are ignored, as the spec requires; at least one line
    must be a valid cosignature by `witness`.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WitnessClientError("cosignature response is not UTF-8") from None
    if not text.endswith("\n"):
        raise WitnessClientError("cosignature response does not end in a newline")
    sigs = [parse_signature_line(line, i) for i, line in enumerate(text[:-1].split("\n"), 1)]
    mine = [s for s in sigs if (s.name, s.key_id) == (witness.name, witness.key_id)]
    try:
        verify_note(Note(note.text, tuple(mine)), [witness])
    except NoteError as e:
        raise WitnessClientError(f"witness {witness.name}: {e}") from None
    return mine


@dataclass
class WitnessClient:
    """Submits checkpoints to one witness and remembers the size it last cosigned."""

    url: str
    witness: Verifier
    http: httpx.AsyncClient
    timeout: float = 10.0
    known_size: int = 0

    async def add_checkpoint(
        self, note: Note, size: int, proof_source: ProofSource
    ) -> list[Signature]:
        """Get cosignatures on `note` (a checkpoint of `size` leaves) from this witness.

        Retries once after a 409 with the size the witness reports. Raises
        WitnessRejectedError when the witness refuses (409 with its own size when it
        has cosigned a larger tree, or another checkpoint of this size: a split view),
        WitnessUnavailableError when it cannot be reached, WitnessClientError for a
        response that is not one.
        """
        for _ in range(2):
            old = min(self.known_size, size)
            proof = await proof_source(old, size) if 0 < old < size else []
            body = build_add_checkpoint_body(old, proof, note.to_bytes())
            status, content_type, content = await self._post(body)
            if status == 200:
                self.known_size = size
                return parse_cosignatures(content, note, self.witness)
            if status == 409 and content_type.startswith(SIZE_CONTENT_TYPE):
                try:
                    text = content.decode("ascii").removesuffix("\n")
                    reported = parse_size(text, "409 size")
                except (UnicodeDecodeError, TlogError) as e:
                    raise WitnessClientError(f"witness {self.url}: bad 409 body: {e}") from None
                if reported > size:
                    raise WitnessRejectedError(
                        self.url, 409, f"witness has cosigned size {reported} > {size}"
                    )
                if reported == old:
                    raise WitnessRejectedError(
                        self.url, 409, f"witness has cosigned another checkpoint of size {old}"
                    )
                self.known_size = reported
                continue
            raise WitnessRejectedError(self.url, status, content.decode("utf-8", "replace").strip())
        raise WitnessRejectedError(self.url, 409, "size kept changing between retries")

    async def _post(self, body: bytes) -> tuple[int, str, bytes]:
        """POST the body; the status, content type and at most MAX_RESPONSE_BYTES of body."""
        url = self.url.rstrip("/") + "/add-checkpoint"
        try:
            async with self.http.stream("POST", url, content=body, timeout=self.timeout) as resp:
                content = bytearray()
                async for chunk in resp.aiter_bytes():
                    content += chunk
                    if len(content) > MAX_RESPONSE_BYTES:
                        raise WitnessClientError(
                            f"witness {self.url}: response over {MAX_RESPONSE_BYTES} bytes"
                        )
                return resp.status_code, resp.headers.get("content-type", ""), bytes(content)
        except httpx.HTTPError as e:
            raise WitnessUnavailableError(f"witness {self.url}: {e!r}") from None
