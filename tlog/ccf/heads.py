"""CCF signed roots as C2SP checkpoint notes a witness can verify, cosign and gossip.

A CCF 5+ signature transaction carries a COSE_Sign1 by the service key over the Merkle
root (payload detached) with the txid in its protected header. It becomes the checkpoint

    <origin>
    <tree size = the signature's seqno>
    <base64 root>

signed by one note signature of witnessnet type 0xff "witnessnet/ccf-cose-root/v1"
(tlog.keys.CcfCoseVerifier): the COSE protected header and signature, verified by
rebuilding the Sig_structure with the root as payload. The key name is the origin, and the
vkey carries the service key's SPKI, so anyone holding the vkey checks the note offline.

Node signatures (every CCF version) are by per-node keys that come and go with the
network's membership; a witness could only check them by replaying the governance history,
so ledgers without COSE root signatures yield no checkpoint (NoSignedHeadError says so).
"""

from __future__ import annotations

from cryptography import x509

from tlog.ccf.errors import NoSignedHeadError
from tlog.ccf.signatures import spki
from tlog.ccf.verify import LedgerReport, SignedRoot
from tlog.checkpoint import Checkpoint
from tlog.keys import CcfCoseVerifier, ccf_cose_signature
from tlog.note import Note, Signature


def service_verifier(origin: str, service_cert: x509.Certificate) -> CcfCoseVerifier:
    """The note verifier (and vkey) of a CCF service for checkpoints of origin."""
    return CcfCoseVerifier(origin, spki(service_cert))


def checkpoint_note(origin: str, root: SignedRoot, verifier: CcfCoseVerifier) -> Note:
    """The checkpoint note of one COSE-signed root, signed as verifier's key ID says."""
    if root.cose is None:
        raise NoSignedHeadError(
            f"signed root {root.txid} has only a node signature; no service signature to carry"
        )
    body = Checkpoint(origin, root.size, root.root).body()
    sig = ccf_cose_signature(root.cose.sign1.protected_bytes, root.cose.sign1.signature)
    return Note(body, (Signature(verifier.name, verifier.key_id, sig),))


def latest_cose_root(report: LedgerReport, where: str = "ledger") -> SignedRoot:
    """The newest signed root with a COSE service signature; NoSignedHeadError saying why not."""
    for root in reversed(report.signed_roots):
        if root.cose is not None:
            return root
    if report.signed_roots:
        last = report.signed_roots[-1]
        raise NoSignedHeadError(
            f"{where}: {len(report.signed_roots)} signed roots up to {last.txid}, none with a "
            "COSE root signature (CCF before 5.0 signs roots with node keys only, which change "
            "with the network's nodes; a witness needs the stable service key)"
        )
    raise NoSignedHeadError(f"{where}: no signature transaction verified yet")
