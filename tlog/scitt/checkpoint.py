"""A verified receipt's signed root as a C2SP checkpoint note. Pure.

A COSE receipt's service signature covers only its protected header and the
Merkle root (the detached payload). To let witnesses cosign and gossip that
signed head like any checkpoint, the receipt is repackaged, not re-signed:

    <origin>
    <tree size>
    <base64 root>

    — <key name> base64(<4-byte key ID> || uint16 len || COSE protected || COSE signature)

The signature bytes are those of the note types 0xff "witnessnet/ccf-cose-root/v1"
(tlog.keys.CcfCoseVerifier, for CCF_LEDGER_SHA256 receipts) and 0xff
"witnessnet/cose-rfc9162-root/v1" (tlog.keys.CoseRfc9162Verifier, for RFC9162_SHA256
receipts); both build them with tlog.keys.ccf_cose_signature. Their verifiers rebuild
Sig_structure ["Signature1", protected, h'', root from the note body] and check it with
the service key, and require the origin to be the key name. The CCF type also requires a
CCF_LEDGER_SHA256 header whose ccf.v1 txid seqno is the note's tree size; the RFC 9162
type requires vds 1 and the vkey's kid (docs/scitt.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from tlog.checkpoint import Checkpoint
from tlog.errors import MalformedKeyError
from tlog.keys import ccf_cose_signature
from tlog.note import Note, Signature, is_valid_key_name
from tlog.scitt.errors import MalformedReceiptError
from tlog.scitt.receipt import Receipt, SignedRoot


def signature_blob(receipt: Receipt) -> bytes:
    """The receipt's COSE signature as note signature bytes (after the key ID)."""
    try:
        return ccf_cose_signature(receipt.sign1.protected_bytes, receipt.sign1.signature)
    except MalformedKeyError as e:
        raise MalformedReceiptError(f"receipt: {e}") from None


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
