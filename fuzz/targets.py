"""One fuzz target per parser that takes bytes from outside the process.

A target takes arbitrary bytes and drives a parser the way the daemon does with
bytes from the network or a file, then the checks behind it (signature, proof,
decision), so the fuzzer reaches the code that runs on parsed values too. The
only exceptions allowed out of a parser are the project's typed errors: the
tlog hierarchy (TlogError, which gossip's errors extend) and the witness's and
monitor's. Anything else (IndexError, KeyError, UnicodeError, TypeError,
RecursionError, ...) escapes `run_one` and is a crash.

Targets must not import atheris: the replay test runs them without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from fuzz import context as ctx
from gossip.evidence import parse_evidence, verify_evidence
from gossip.membership import parse_network
from gossip.messages import (
    CheckpointRequest,
    Checkpoints,
    Digest,
    Evidence,
    Proof,
    ReplayGuard,
    decode_message,
    open_message,
    verify_message,
)
from gossip.reconcile import (
    LogView,
    answer_request,
    classify,
    plan_exchange,
    receive_evidence,
)
from monitor.claims import CLAIM_TYPES, parse_entry
from monitor.errors import MonitorError
from tlog.ccf.chunk import parse_chunk
from tlog.ccf.tx import parse_transaction
from tlog.ccf.verify import verify_chunks
from tlog.checkpoint import open_checkpoint, parse_checkpoint
from tlog.cose.sign1 import decode_sign1
from tlog.cosignature import cosignature_timestamp, parse_cosigner_vkey
from tlog.ct.der import certificate_names
from tlog.ct.leaf import parse_leaf
from tlog.ct.sth import parse_sth_json
from tlog.errors import TlogError
from tlog.keys import parse_private_key, parse_vkey
from tlog.note import parse_note, verify_note
from tlog.policy import parse_policy, verify_cosigned_checkpoint
from tlog.scitt.ccf_json_receipt import parse_ccf_json_receipt
from tlog.scitt.receipt import parse_receipt
from tlog.scitt.statement import verify_receipt_file, verify_statement
from tlog.scitt.trust_store import parse_trust_store
from tlog.tiles import decode_entry_bundle, parse_hash_tile, parse_tile_path
from witness.decide import LogState, Reject, decide, parse_request, verify_request
from witness.errors import WitnessError
from witness.loglist import parse_log_list

ACCEPTED: tuple[type[Exception], ...] = (TlogError, WitnessError)
"""The typed errors every target may raise on bad input."""


@dataclass(frozen=True, slots=True)
class Target:
    """A fuzz target: the function, and the exceptions that count as a clean rejection."""

    name: str
    run: Callable[[bytes], object]
    accepted: tuple[type[Exception], ...] = ACCEPTED
    about: str = ""
    max_len: int = 16 << 10  # inputs larger than the largest seed rarely help and run slowly


def _text(data: bytes) -> str | None:
    """The bytes as UTF-8 text, for parsers whose callers hand them text (None: not UTF-8)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def note(data: bytes) -> None:
    n = parse_note(data)
    verify_note(n, (*ctx.LOG_VERIFIERS, *ctx.COSIGNERS))


def checkpoint(data: bytes) -> None:
    text = _text(data)
    if text is not None:
        with contextlib.suppress(TlogError):
            parse_checkpoint(text)
    open_checkpoint(data, ctx.LOG_VERIFIERS)


def cosignature(data: bytes) -> None:
    n = parse_note(data)
    for v in verify_note(n, ctx.COSIGNERS):
        for sig in n.signatures:
            if (sig.name, sig.key_id) == (v.name, v.key_id):
                cosignature_timestamp(sig)


def add_checkpoint(data: bytes) -> None:
    request = parse_request(data)
    verified = verify_request(request, ctx.trusted)
    if isinstance(verified, Reject):
        return
    origin = verified.checkpoint.origin
    if origin == ctx.MONKEYS_5.origin:
        state = LogState(origin, 5, ctx.MONKEYS_5.root, ctx.MONKEYS_5_NOTE, 0.0)
    else:
        state = LogState(origin)
    decide(state, verified, 1.0)


_VIEW = {"monkeys": LogView("monkeys", 5, ctx.MONKEYS_5.root, ctx.MONKEYS_5_NOTE)}


def gossip_message(data: bytes) -> None:
    signed = decode_message(data)
    with contextlib.suppress(TlogError):
        verify_message(signed, ctx.NETWORK)
    # The receiver acts on payloads only after the signature checks; the fuzzer cannot
    # forge one, so it drives the payload handling directly on the decoded message.
    payloads = signed.message.payloads
    proofs = tuple(p for p in payloads if isinstance(p, Proof))
    for p in payloads:
        if isinstance(p, Digest):
            plan_exchange(_VIEW, p)
        elif isinstance(p, CheckpointRequest):
            answer_request(_VIEW, p)
        elif isinstance(p, Checkpoints):
            for n in p.notes:
                classify(n, _VIEW, ctx.trusted, ctx.COSIGNERS, proofs)
        elif isinstance(p, Evidence):
            receive_evidence(p.file, ctx.trusted, ctx.COSIGNERS)
    open_message(
        data, me=ctx.ME, network=ctx.NETWORK, guard=ReplayGuard(), now=float(signed.message.time)
    )


def tile_path(data: bytes) -> None:
    text = _text(data)
    if text is not None:
        parse_tile_path(text)


def hash_tile(data: bytes) -> None:
    if data:
        parse_hash_tile(data[1:], data[0] + 1)


def entry_bundle(data: bytes) -> None:
    if data:
        decode_entry_bundle(data[1:], None if data[0] == 0 else data[0])


def policy(data: bytes) -> None:
    # A policy and a note to check against it, separated by a form feed (as in the seeds).
    head, _, rest = data.partition(b"\f")
    p = parse_policy(head)
    if rest:
        verify_cosigned_checkpoint(rest, p)


def evidence(data: bytes) -> None:
    parse_evidence(data)
    verify_evidence(data, ctx.LOG_VERIFIERS, ctx.COSIGNERS)


def vkey(data: bytes) -> None:
    text = _text(data)
    if text is None:
        return
    for parse in (parse_vkey, parse_cosigner_vkey, parse_private_key):
        with contextlib.suppress(TlogError):
            parse(text)


def network_file(data: bytes) -> None:
    parse_network(data, "fuzz")


def log_list(data: bytes) -> None:
    text = _text(data)
    if text is not None:
        parse_log_list(text, "fuzz")


def claim(data: bytes) -> None:
    parse_entry(data, tuple(CLAIM_TYPES.values()))


def ccf_ledger(data: bytes) -> None:
    # The chunk's file name (it carries the seqno range), a newline, then the chunk.
    name, _, chunk = data.partition(b"\n")
    text = _text(name)
    if text is None:
        return
    parsed = parse_chunk(chunk, text)
    for i, tx in enumerate(parsed.transactions):
        parse_transaction(tx.raw, file=text, offset=tx.offset, seqno=parsed.first + i)
    if parsed.first == 1:
        verify_chunks([(text, chunk)])


def cose_sign1(data: bytes) -> None:
    decode_sign1(data)


def scitt_statement(data: bytes) -> None:
    verify_statement(data, ctx.scitt_trust_store())


def scitt_receipt(data: bytes) -> None:
    parse_receipt(data)
    verify_receipt_file(data, ctx.scitt_trust_store(), entry_hash=bytes(32))


def ccf_json_receipt(data: bytes) -> None:
    parse_ccf_json_receipt(data)


def trust_store(data: bytes) -> None:
    parse_trust_store(data, "fuzz")


def ct_sth(data: bytes) -> None:
    parse_sth_json(data)


def ct_leaf(data: bytes) -> None:
    entry = parse_leaf(data)
    with contextlib.suppress(TlogError):
        certificate_names(entry.certificate)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("note", note, about="signed notes (tlog.note), verified against known keys"),
        Target("checkpoint", checkpoint, about="checkpoint bodies and notes (tlog.checkpoint)"),
        Target("cosignature", cosignature, about="cosignature/v1 lines (tlog.cosignature)"),
        Target(
            "add_checkpoint",
            add_checkpoint,
            about="add-checkpoint bodies (witness.decide: parse, verify, decide)",
        ),
        Target(
            "gossip_message",
            gossip_message,
            about="gossip messages (gossip.messages) and their payloads (gossip.reconcile)",
        ),
        Target("tile_path", tile_path, about="tile and entry bundle paths (tlog.tiles)"),
        Target("hash_tile", hash_tile, about="hash tiles (tlog.tiles); byte 0 is width-1"),
        Target(
            "entry_bundle",
            entry_bundle,
            about="entry bundles (tlog.tiles); byte 0 is the expected count, 0 for any",
        ),
        Target("policy", policy, about="tlog-policy files (tlog.policy) and quorum checks"),
        Target("evidence", evidence, about="evidence files (gossip.evidence), parsed and verified"),
        Target("vkey", vkey, about="verifier, cosigner and private keys (tlog.keys)"),
        Target("network_file", network_file, about="gossip network files (gossip.membership)"),
        Target("log_list", log_list, about="witness-network logs/v0 lists (witness.loglist)"),
        Target(
            "ccf_ledger",
            ccf_ledger,
            about="CCF ledger chunks, parsed and verified (tlog.ccf); line 1 is the file name",
            max_len=64 << 10,
        ),
        Target("cose_sign1", cose_sign1, about="COSE_Sign1 over strict CBOR (tlog.cose)"),
        Target(
            "scitt_statement",
            scitt_statement,
            about="SCITT signed/transparent statements checked with a real trust store",
        ),
        Target("scitt_receipt", scitt_receipt, about="COSE receipts, RFC 9942 (tlog.scitt)"),
        Target("ccf_json_receipt", ccf_json_receipt, about="CCF JSON write receipts"),
        Target("trust_store", trust_store, about="SCITT trust store documents (tlog.scitt)"),
        Target("ct_sth", ct_sth, about="RFC 6962 get-sth JSON (tlog.ct.sth)"),
        Target("ct_leaf", ct_leaf, about="RFC 6962 MerkleTreeLeaf and certificate names"),
        Target(
            "claim",
            claim,
            accepted=(*ACCEPTED, MonitorError),
            about="log entries parsed as monitor claims (monitor.claims)",
        ),
    )
}


def run_one(target: Target, data: bytes) -> bool:
    """Run `target` on `data`: True if accepted, False if rejected with a typed error.

    Any other exception propagates: that is the crash the fuzzer looks for.
    """
    try:
        target.run(data)
    except target.accepted:
        return False
    return True
