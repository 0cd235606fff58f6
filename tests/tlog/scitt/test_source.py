"""ScittSource against a local SCITT service (real HTTP on 127.0.0.1, real signatures)."""

from __future__ import annotations

from functools import partial

import hypercorn.trio
import pytest
import trio
from hypercorn.config import Config

from tests.tlog.scitt import builders as b
from tests.tlog.scitt.scitt_service import ScittService
from tlog.checkpoint import parse_checkpoint
from tlog.errors import CheckpointError, InvalidSignatureError
from tlog.keys import CoseRfc9162Verifier
from tlog.ledger import LedgerSource, open_source
from tlog.merkle import verify_consistency
from tlog.note import parse_note
from tlog.scitt.checkpoint import receipt_to_checkpoint, signature_blob
from tlog.scitt.errors import MalformedReceiptError, ReceiptProofError
from tlog.scitt.receipt import parse_receipt, verify_inclusion_receipt
from tlog.scitt.source import ScittSource
from tlog.tiles_client import LogStatusError


@pytest.fixture
async def service(nursery: trio.Nursery) -> ScittService:
    svc = ScittService(b.signer(-7))
    for i in range(21):
        svc.register(b.statement(b.signer(-8), b"artifact %d" % i))
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    binds = await nursery.start(partial(hypercorn.trio.serve, svc.app(), config))
    svc.url = binds[0]
    return svc


def verifier(svc: ScittService) -> CoseRfc9162Verifier:
    return b.root_verifier(svc.signer)


def source(svc: ScittService, **kw) -> ScittSource:
    return ScittSource(svc.url, [verifier(svc)], **kw)


async def test_heads_are_checkpoints_checked_by_the_note_verifier(service: ScittService) -> None:
    src = source(service, origin=b.ISSUER)
    assert isinstance(src, LedgerSource)
    first = await src.fetch_checkpoint()
    assert (first.checkpoint.origin, first.checkpoint.size) == (b.ISSUER, 21)
    assert first.checkpoint.root == service.tree.root(21)
    for i in range(21, 40):
        service.register(b.statement(b.signer(-8), b"artifact %d" % i))
    second = await src.fetch_checkpoint()
    assert second.checkpoint.size == 40
    proof = await src.consistency_proof(21, 40)
    verify_consistency(21, 40, first.checkpoint.root, second.checkpoint.root, proof)
    assert await src.consistency_proof(40, 40) == []
    entries = [e async for e in src.entries(0, 40)]
    assert entries == service.entries
    assert [src.leaf_hash(e) for e in entries] == [service.tree.node_hash(0, i) for i in range(40)]
    receipt = await src.inclusion_receipt(7, 30)
    assert (
        verify_inclusion_receipt(receipt, service.signer.public, entry=entries[7]).tree_size == 30
    )
    await src.aclose()


async def test_open_source_builds_the_scitt_kind(service: ScittService) -> None:
    src = open_source("scitt", service.url, [verifier(service)])
    assert src.kind == "scitt"
    assert (await src.fetch_checkpoint()).checkpoint.size == 21
    await src.aclose()


async def test_a_tampered_head_signature_rejects_the_note(service: ScittService) -> None:
    service.tamper_head = True
    with pytest.raises(InvalidSignatureError):
        await source(service).fetch_checkpoint()


async def test_a_head_from_another_key_or_origin_is_refused(service: ScittService) -> None:
    other = b.root_verifier(b.signer(-7), "other")
    with pytest.raises(InvalidSignatureError, match="signature by other"):
        await ScittSource(service.url, [other]).fetch_checkpoint()
    with pytest.raises(MalformedReceiptError, match="no key"):
        await ScittSource(service.url, []).fetch_checkpoint()
    with pytest.raises(CheckpointError, match="want 'elsewhere'"):
        await source(service, origin="elsewhere").fetch_checkpoint()


async def test_a_substituted_newest_entry_breaks_the_signature(service: ScittService) -> None:
    service.entries[-1] = b"not what was logged"
    with pytest.raises(InvalidSignatureError):
        await source(service).fetch_checkpoint()


async def test_missing_entries_and_wrong_sizes(service: ScittService) -> None:
    src = source(service)
    with pytest.raises(LogStatusError):
        _ = [e async for e in src.entries(20, 22)]
    with pytest.raises(LogStatusError):
        await src.consistency_proof(5, 99)


def test_receipt_to_checkpoint_names_the_verifiers_and_carries_the_cose_signature() -> None:
    s = b.signer(-35)
    from tlog.merkle import RFC6962, MemoryTree

    tree = MemoryTree([RFC6962.leaf(b"%d" % i) for i in range(9)])
    receipt = parse_receipt(b.rfc9162_inclusion_receipt(s, tree, 8, 9))
    signed = verify_inclusion_receipt(receipt, s.public, entry=b"8")
    v = b.root_verifier(s, "svc")
    note = parse_note(receipt_to_checkpoint(receipt, signed, "svc", [(v.name, v.key_id), ("b", 2)]))
    assert parse_checkpoint(note.text).root == tree.root(9)
    assert [(x.name, x.key_id) for x in note.signatures] == [("svc", v.key_id), ("b", 2)]
    assert note.signatures[0].signature == signature_blob(receipt)
    assert v.verify(note.text.encode(), signature_blob(receipt))
    with pytest.raises(MalformedReceiptError, match="no key"):
        receipt_to_checkpoint(receipt, signed, "svc", [])
    with pytest.raises(MalformedReceiptError, match="invalid note key"):
        receipt_to_checkpoint(receipt, signed, "svc", [("a b", 1)])


async def test_consistency_receipt_with_other_sizes_is_refused(service: ScittService) -> None:
    service.shrink_consistency = True
    with pytest.raises(ReceiptProofError, match=r"asked for consistency 5 -> 21, got 5 -> 20"):
        await source(service).consistency_proof(5, 21)
