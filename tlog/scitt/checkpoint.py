"""A verified receipt's signed root as a C2SP checkpoint note. Pure.

A COSE receipt's service signature covers only its protected header and the
Merkle root (the detached payload). To let witnesses cosign and gossip that
signed head like any checkpoint, the receipt is repackaged, not re-signed:

    <origin>\\n<tree size>\\n<base64 root>\\n
    \\n
    — <key name> base64(<4-byte key ID> || <COSE root signature blob>)

where the blob is the CBOR array [protected: bstr, signature: bstr] of the
receipt. A note verifier for this signature type rebuilds Sig_structure
["Signature1", protected, h'', root from the note body] and checks it with the
service key; for a CCF tree it must also check that the ccf.v1 txid in the
protected header names the note's tree size (tree size = signature seqno).
The key name and key ID come from the verifiers that will check the note, so
the line matches whatever key the relying party configured.
"""

from __future__ import annotations

from collections.abc import Iterable

import cbor2

from tlog.checkpoint import Checkpoint
from tlog.note import Note, Signature, is_valid_key_name
from tlog.scitt.errors import MalformedReceiptError
from tlog.scitt.receipt import Receipt, SignedRoot


def signature_blob(receipt: Receipt) -> bytes:
    """The receipt's COSE root signature as a note signature blob: CBOR [protected, signature]."""
    return cbor2.dumps([receipt.sign1.protected_bytes, receipt.sign1.signature])


def receipt_to_checkpoint(
    receipt: Receipt, signed: SignedRoot, origin: str, keys: Iterable[tuple[str, int]]
) -> bytes:
    """A checkpoint note for signed (verified from receipt), one signature line per (name, key ID).

    The signature is not checked here: open the note with the service's note
    verifiers (tlog.checkpoint.open_checkpoint), which check the COSE signature.
    """
    if signed.tree_size is None:
        raise MalformedReceiptError(
            "receipt does not say its tree size (a CCF receipt without a ccf.v1 txid): "
            "it cannot be a checkpoint"
        )
    if receipt.sign1.payload is not None and receipt.sign1.payload != signed.root:
        raise MalformedReceiptError("receipt payload is not the signed root")
    text = Checkpoint(origin, signed.tree_size, signed.root).body()
    blob = signature_blob(receipt)
    signatures = []
    for name, key_id in keys:
        if not is_valid_key_name(name) or not 0 <= key_id < 1 << 32:
            raise MalformedReceiptError(f"invalid note key name or ID {name!r}/{key_id}")
        signatures.append(Signature(name, key_id, blob))
    if not signatures:
        raise MalformedReceiptError("no key to name in the checkpoint's signature line")
    return Note(text, tuple(signatures)).to_bytes()
