"""Rebuild the checked-in seed corpus, fuzz/corpus/<target>/, from ../shared/vectors.

    python -m fuzz.seeds

Each seed is a file named by the SHA-256 of its bytes (as libFuzzer names its own),
so rebuilding is idempotent and a seed found by the fuzzer sits beside them. Most
seeds are vector sections byte for byte; where a format has no public vector
(gossip messages, evidence files, hash tiles, network files) the seeds are built
from vector data: the monkeys log's TEST key, its checkpoints and its consistency
proof. Existing files are kept: crash inputs added by hand stay in the corpus.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from fuzz import context as ctx
from fuzz.targets import TARGETS
from gossip.evidence import (
    Reason,
    build_inconsistent_sizes,
    build_same_size,
    build_suspicion,
    build_witness_equivocation,
)
from gossip.messages import (
    CheckpointRequest,
    Checkpoints,
    Digest,
    DigestEntry,
    Evidence,
    Message,
    Proof,
    Want,
    encode_message,
    origin_hash,
)
from gossip.reconcile import cosigner_tag
from tests.vectors import (
    VECTORS_DIR,
    litewitness_checkpoint,
    load,
    verified_notes,
)
from tlog.ccf.chunk import encode_chunk, parse_chunk
from tlog.checkpoint import Checkpoint
from tlog.cose.headers import X5CHAIN, x5chain
from tlog.cosignature import CosignatureV1Signer
from tlog.ct.leaf import TimestampedEntry, encode_leaf
from tlog.merkle import RFC6962, MemoryTree
from tlog.note import Note, Signature, parse_note, sign_note
from tlog.scitt.statement import decode_statement, receipt_items
from tlog.tiles import encode_entry_bundle, encode_hash_tile

CORPUS = Path(__file__).parent / "corpus"
DATA = Path(__file__).parent / "data"
TIME = 1_700_000_000


def _monkeys() -> tuple[bytes, bytes, list[bytes]]:
    m = load("monkeys-consistency-5-to-8.txt")
    proof = [bytes.fromhex(h) for h in m.lines("consistency-proof-hex")]
    return m["checkpoint-5"], m["checkpoint-8"], proof


def note_seeds() -> Iterator[bytes]:
    seen: set[bytes] = set()
    for v in verified_notes():
        if v.note not in seen:
            seen.add(v.note)
            yield v.note
    yield ctx.MONKEYS_5_NOTE


def checkpoint_seeds() -> Iterator[bytes]:
    sumdb = load("sumdb-checkpoints.txt")
    yield from (sumdb[k] for k in ("cp-35225469", "cp-6476701", "cp-30055305"))
    five, eight, _ = _monkeys()
    yield from (five, eight)
    yield load("static-ct-rfc6962-notes.txt")["checkpoint-rome"]
    yield load("c2sp-spec-examples.txt")["tlog-checkpoint-example"]
    yield load("armored-witness-cosigned-checkpoints.txt")["pixel-611"]


def cosignature_seeds() -> Iterator[bytes]:
    sigsum = load("sigsum-testkey17-checkpoint-and-cosignature.txt")
    yield sigsum["cosigned-body"] + b"\n" + sigsum["cosignature-lines"]
    aw = load("armored-witness-cosigned-checkpoints.txt")
    yield from (aw["pixel-611"], aw["aw-ftlog-ci-3-59"])
    yield load("c2sp-spec-examples.txt")["tlog-cosignature-example"]


def add_checkpoint_seeds() -> Iterator[bytes]:
    lite = load("litewitness-add-checkpoint-sequence.txt")
    yield from (lite[f"request-{i}"] for i in range(1, 10))
    yield litewitness_checkpoint(lite, "request-1")
    yield load("monkeys-consistency-5-to-8.txt")["add-checkpoint-request"]
    yield load("c2sp-spec-examples.txt")["add-checkpoint-request-example"]


def _forks() -> tuple[MemoryTree, MemoryTree]:
    """Two histories of the monkeys log that agree on 5 entries: what a forking log signs."""
    shared = [RFC6962.leaf(f"common {i}".encode()) for i in range(5)]
    return (
        MemoryTree(shared + [RFC6962.leaf(f"a {i}".encode()) for i in range(5, 20)]),
        MemoryTree(shared + [RFC6962.leaf(f"b {i}".encode()) for i in range(5, 20)]),
    )


def _signed(tree: MemoryTree, size: int) -> bytes:
    body = Checkpoint("monkeys", size, tree.root(size)).body()
    return sign_note(body, [ctx.MONKEYS]).to_bytes()


def _cosigned(note: bytes, cosigner: CosignatureV1Signer) -> bytes:
    n = parse_note(note)
    sig = Signature(cosigner.name, cosigner.key_id, cosigner.sign_at(n.text.encode(), TIME))
    return Note(n.text, (*n.signatures, sig)).to_bytes()


def evidence_seeds() -> Iterator[bytes]:
    a, b = _forks()
    verifiers = [ctx.MONKEYS.verifier()]
    same = build_same_size(_signed(a, 10), _signed(b, 10), verifiers)
    sizes = build_inconsistent_sizes(
        _signed(a, 9), _signed(b, 15), b.consistency_proof(9, 15), verifiers
    )
    yield from (same, sizes)
    witness = CosignatureV1Signer(ctx.GOSSIP_SIGNER, clock=lambda: TIME)
    notes = [_cosigned(_signed(t, 10), witness) for t in (a, b)]
    yield build_witness_equivocation(same, notes, witness.verifier(), verifiers)
    yield build_suspicion(
        ctx.GOSSIP_SIGNER,
        Reason.NO_PROOF,
        5,
        "HTTP 503 from the log's proof endpoint",
        _signed(a, 12),
        _signed(a, 8),
        verifiers,
        TIME,
    )


def _message(*payloads: object) -> bytes:
    message = Message(ctx.GOSSIP_SIGNER.name, ctx.ME, 1, TIME, tuple(payloads))  # type: ignore[arg-type]
    return encode_message(message, ctx.GOSSIP_SIGNER)


def gossip_seeds() -> Iterator[bytes]:
    five, eight, proof = _monkeys()
    h = origin_hash("monkeys")
    root8 = parse_note(eight).text.split("\n")[2]
    yield _message(Digest((DigestEntry(h, 8, base64.b64decode(root8), cosigner_tag(eight)),)))
    yield _message(CheckpointRequest((Want(h, 5),)))
    yield _message(Checkpoints((eight,)), Proof(h, 5, 8, tuple(proof)))
    yield _message(Checkpoints((five, load("sumdb-checkpoints.txt")["cp-6476701"])))
    for e in evidence_seeds():
        yield _message(Evidence(e))


def tile_path_seeds() -> Iterator[bytes]:
    for line in load("c2sp-spec-examples.txt").lines("derived-constants"):
        for word in line.split():
            if word.startswith("tile/"):
                yield word.encode()
    yield b"tile/1/x001/234.p/17"


def hash_tile_seeds() -> Iterator[bytes]:
    _, _, proof = _monkeys()
    yield bytes([len(proof) - 1]) + encode_hash_tile(proof)
    tree = MemoryTree([RFC6962.leaf(n) for n in note_seeds()])
    hashes = [tree.node_hash(0, i) for i in range(tree.size)]
    yield bytes([len(hashes) - 1]) + encode_hash_tile(hashes)


def entry_bundle_seeds() -> Iterator[bytes]:
    notes = list(note_seeds())
    yield bytes([len(notes)]) + encode_entry_bundle(notes)
    yield b"\x00" + encode_entry_bundle(notes[:3])
    fw = load("armored-witness-firmware-manifest.txt")["manifest-note"]
    yield b"\x01" + encode_entry_bundle([fw])


def policy_seeds() -> Iterator[bytes]:
    p = load("policies.txt")
    for name in p.sections:
        yield p[name]
    sigsum = load("sigsum-testkey17-checkpoint-and-cosignature.txt")
    witness = ctx.SIGSUM_WITNESS.verifier()
    lite = load("litewitness-add-checkpoint-sequence.txt")
    log_key = lite.line("log-pubkey-hex")
    own = f"log {log_key}\nwitness W {witness.public.hex()}\nquorum W\n".encode()
    yield own + b"\f" + sigsum["cosigned-body"] + b"\n" + sigsum["cosignature-lines"]


def vkey_seeds() -> Iterator[bytes]:
    yield from (v.encode() for v in (*ctx.LOG_VKEYS, *ctx.WITNESS_VKEYS))
    yield from (ctx.MONKEYS_SKEY.encode(), ctx.GOSSIP_SKEY.encode())
    aw = load("armored-witness-cosigned-checkpoints.txt")
    yield from (v.encode() for v in aw.lines("all-omniwitness-log-vkeys")[:8])
    yield load("xmod-note-peterneumann.txt").line("vkey-enoch").encode()


def network_file_seeds() -> Iterator[bytes]:
    aw = load("armored-witness-cosigned-checkpoints.txt")
    lines = [
        f"witness w{i} {v} https://w{i}.example:8443/\n"
        for i, v in enumerate(aw.lines("armored-witness-prod-vkeys")[:4])
    ]
    yield ("# witnesses\n" + "".join(lines)).encode()


def log_list_seeds() -> Iterator[bytes]:
    lists = load("witness-network-log-lists.txt")
    yield from (lists[name] for name in lists.sections)


def claim_seeds() -> Iterator[bytes]:
    yield load("armored-witness-firmware-manifest.txt")["manifest-note"]
    ft = load("ft-demo-firmware-formats.txt")
    yield from (ft["firmware-metadata-json"], ft["firmware-statement-json"])
    for folder in ("scitt-ccf-ledger-signed-statements", "scitt-esrp-cts-transparent-statement"):
        yield from (p.read_bytes() for p in sorted((VECTORS_DIR / folder).glob("*.cose")))
    yield b"golang.org/x/mod v0.17.0 h1:zY54UmvipHiNd+pm+m0x9KhZ9hl1/7QNMyxXbc6ICqA=\n"


def _ledger(folder: str) -> Iterator[tuple[str, bytes]]:
    for path in sorted((VECTORS_DIR / folder).glob("ledger_*.committed")):
        yield path.name, path.read_bytes()


def ccf_ledger_seeds() -> Iterator[bytes]:
    for name, data in _ledger("ccf-ledger-expired-service"):
        yield name.encode() + b"\n" + data
    # Small chunks of real transactions, for the fuzzer to start below its length limit.
    name, data = next(_ledger("ccf-ledger-cts-canary"))
    chunk = parse_chunk(data, name)
    for n in (1, 2, 3):
        small = encode_chunk([t.raw for t in chunk.transactions[:n]])
        yield f"ledger_1-{n}.committed\n".encode() + small


def _scitt_files() -> list[bytes]:
    out = []
    for folder in ("scitt-ccf-ledger-signed-statements", "scitt-esrp-cts-transparent-statement"):
        out += [p.read_bytes() for p in sorted((VECTORS_DIR / folder).glob("*.cose"))]
    return out


def scitt_statement_seeds() -> Iterator[bytes]:
    yield from _scitt_files()


def cose_sign1_seeds() -> Iterator[bytes]:
    yield from _scitt_files()
    yield from scitt_receipt_seeds()


def scitt_receipt_seeds() -> Iterator[bytes]:
    folder = VECTORS_DIR / "cose-receipts-draft-examples"
    yield from (p.read_bytes() for p in sorted(folder.glob("*.cbor")))
    for data in _scitt_files():
        for item in receipt_items(decode_statement(data)):
            if isinstance(item, bytes):
                yield item


def ccf_json_receipt_seeds() -> Iterator[bytes]:
    yield load("ccf-json-receipt-docs-example.txt")["receipt-json"]


def trust_store_seeds() -> Iterator[bytes]:
    yield (VECTORS_DIR / "scitt-esrp-cts-transparent-statement" / "esrp-cts-db.json").read_bytes()


def ct_sth_seeds() -> Iterator[bytes]:
    yield load("static-ct-rfc6962-notes.txt")["argon2024-get-sth-json"]


def ct_leaf_seeds() -> Iterator[bytes]:
    # A MerkleTreeLeaf around a real certificate: the leaf of an x5chain of a SCITT statement.
    for data in _scitt_files()[:2]:
        cert = x5chain(decode_statement(data).protected[X5CHAIN])[0]
        yield encode_leaf(TimestampedEntry(1_700_000_000_000, 0, cert))


SEEDS = {
    "note": note_seeds,
    "checkpoint": checkpoint_seeds,
    "cosignature": cosignature_seeds,
    "add_checkpoint": add_checkpoint_seeds,
    "gossip_message": gossip_seeds,
    "tile_path": tile_path_seeds,
    "hash_tile": hash_tile_seeds,
    "entry_bundle": entry_bundle_seeds,
    "policy": policy_seeds,
    "evidence": evidence_seeds,
    "vkey": vkey_seeds,
    "network_file": network_file_seeds,
    "log_list": log_list_seeds,
    "claim": claim_seeds,
    "ccf_ledger": ccf_ledger_seeds,
    "cose_sign1": cose_sign1_seeds,
    "scitt_statement": scitt_statement_seeds,
    "scitt_receipt": scitt_receipt_seeds,
    "ccf_json_receipt": ccf_json_receipt_seeds,
    "trust_store": trust_store_seeds,
    "ct_sth": ct_sth_seeds,
    "ct_leaf": ct_leaf_seeds,
}


def write(target: str, seeds: Iterable[bytes]) -> int:
    """Write each seed (up to the target's max_len) as corpus/<target>/<sha256>; count new ones."""
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    new = 0
    for seed in seeds:
        if len(seed) > TARGETS[target].max_len:
            continue
        path = folder / hashlib.sha256(seed).hexdigest()
        if not path.exists():
            path.write_bytes(seed)
            new += 1
    return new


def main() -> None:
    DATA.mkdir(exist_ok=True)
    store = VECTORS_DIR / "scitt-esrp-cts-transparent-statement" / "esrp-cts-db.json"
    (DATA / store.name).write_bytes(store.read_bytes())
    for target, seeds in SEEDS.items():
        print(f"{target}: {write(target, seeds())} new seeds")


if __name__ == "__main__":
    main()
