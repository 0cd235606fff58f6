"""Verify a CCF ledger: rebuild its Merkle tree and check every signature transaction.

The ledger is replayed from seqno 1. Each transaction is parsed strictly and appended to
a tree under CCF's hash rule (leaf 0 is 32 zero bytes, leaf s the digest of transaction s).
At each signature transaction s the checks are, in order:

1. the serialised tree (public:ccf.internal.tree) covers s leaves and hashes to the signed
   root, and the rebuilt tree of the first s leaves has that root. When it does not, the tree
   table's leaves say which transaction differs, so the error names that transaction's seqno;
2. the signature row's seqno and view are the transaction's own;
3. the node signature verifies over the signed root with the signing node's certificate,
   known from the ledger's nodes tables (an embedded cert must be that same certificate);
   the node is not Pending and its certificate is issued by the current service certificate;
4. the COSE root signature, where present, names this txid, has the service key's kid (hex
   SHA-256 of its SPKI) when it has one, and verifies over the signed root with the key of the
   service certificate current in the ledger.

Any failure rejects the ledger; the order only decides which transaction an error names.

The last signature transaction, and anything after it, is covered by no signature: the report
says so (`covered_seqno`) rather than pretending otherwise.

This module does no I/O: `verify_chunks` takes (file name, bytes) pairs; tlog.ccf.files reads
directories.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from tlog.ccf import signatures as sigs
from tlog.ccf.chunk import committed_range, parse_chunk
from tlog.ccf.errors import CcfError, LedgerVerificationError, MalformedLedgerError
from tlog.ccf.tx import Transaction, parse_transaction
from tlog.merkle import CCF, CompactTree, MemoryTree

LEAF_ZERO = bytes(32)


@dataclass(frozen=True, slots=True)
class SignedRoot:
    """One verified signature transaction: the root it signs over the first `size` leaves."""

    file: str
    view: int
    seqno: int
    root: bytes
    node: str | None
    node_signature: bool
    tree_table: bool
    cose: sigs.CoseRootSignature | None
    service_cert: x509.Certificate | None = field(repr=False)

    @property
    def size(self) -> int:
        """Leaves the root covers: leaf 0 and seqnos 1..seqno-1."""
        return self.seqno

    @property
    def txid(self) -> str:
        return f"{self.view}.{self.seqno}"


@dataclass
class LedgerReport:
    """What verification found: every signed root checked so far, and the first problem."""

    files: list[str]
    transactions: int = 0
    last_seqno: int = 0
    signed_roots: list[SignedRoot] = field(default_factory=list)
    tree: MemoryTree = field(default_factory=lambda: MemoryTree([LEAF_ZERO], CCF))
    service_cert: x509.Certificate | None = None
    problem: CcfError | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def covered_seqno(self) -> int:
        """The last seqno whose transaction a verified signature covers (0 if none)."""
        return self.signed_roots[-1].seqno - 1 if self.signed_roots else 0

    def raise_for_problem(self) -> None:
        if self.problem is not None:
            raise self.problem


class _Replay:
    """The ledger state a signature check needs: tree, node certificates, service cert."""

    def __init__(self, report: LedgerReport) -> None:
        self.report = report
        self.node_certs: dict[str, x509.Certificate] = {}
        self.node_status: dict[str, str] = {}
        self._endorsed: set[tuple[x509.Certificate, x509.Certificate]] = set()

    def fail(self, tx: Transaction, file: str, message: str) -> LedgerVerificationError:
        return LedgerVerificationError(
            f"transaction {tx.txid}: {message}", file=file, seqno=tx.seqno
        )

    def add(self, tx: Transaction, file: str) -> None:
        try:
            self._governance(tx)
            if sigs.is_signature_transaction(tx):
                self._signature(tx, file)
        except sigs.SignatureFormatError as e:
            raise self.fail(tx, file, str(e)) from None
        self.report.tree.append(tx.leaf())
        self.report.transactions += 1
        self.report.last_seqno = tx.seqno

    def _governance(self, tx: Transaction) -> None:
        nodes = tx.public.table(sigs.NODES_TABLE)
        for node_id, value in nodes.writes if nodes else ():
            info = _json_object(value, "nodes.info row")
            nid = node_id.decode("utf-8", "replace")
            status = info.get("status")
            self.node_status[nid] = status if isinstance(status, str) else ""
            if isinstance(info.get("cert"), str):
                self.node_certs[nid] = sigs.load_cert(info["cert"].encode("utf-8"))
        for node_id in nodes.removes if nodes else ():
            nid = node_id.decode("utf-8", "replace")
            self.node_status.pop(nid, None)
            self.node_certs.pop(nid, None)
        endorsed = tx.public.table(sigs.ENDORSED_CERTS_TABLE)
        for node_id, value in endorsed.writes if endorsed else ():
            self.node_certs[node_id.decode("utf-8", "replace")] = sigs.load_cert(value)
        for node_id in endorsed.removes if endorsed else ():
            self.node_certs.pop(node_id.decode("utf-8", "replace"), None)
        service = sigs.singleton(tx, sigs.SERVICE_INFO_TABLE)
        if service is not None:
            info = _json_object(service, "service.info row")
            if not isinstance(info.get("cert"), str):
                raise sigs.SignatureFormatError("service.info row has no cert")
            self.report.service_cert = sigs.load_cert(info["cert"].encode("utf-8"))

    def _signature(self, tx: Transaction, file: str) -> None:
        report = self.report
        row = sigs.singleton(tx, sigs.SIGNATURES_TABLE)
        node_sig = sigs.parse_node_signature(row) if row is not None else None
        cose_row = sigs.singleton(tx, sigs.COSE_SIGNATURES_TABLE)
        cose_sig = sigs.parse_cose_signature_row(cose_row) if cose_row is not None else None
        tree_row = sigs.singleton(tx, sigs.TREE_TABLE)
        tree = sigs.parse_tree_table(tree_row) if tree_row is not None else None
        if node_sig is None and cose_sig is None:
            raise self.fail(tx, file, "signature table without a signature row")
        if tree is not None and tree.size != tx.seqno:
            raise self.fail(tx, file, f"tree table covers {tree.size} leaves, want {tx.seqno}")
        tree_root = _tree_table_root(tree) if tree is not None else None
        claimed = node_sig.root if node_sig is not None else tree_root
        if claimed is None:
            raise self.fail(tx, file, "COSE signature without a tree table to name its root")
        if tree_root is not None and tree_root != claimed:
            raise self.fail(tx, file, "tree table does not hash to the signed root")
        # Compare the history before the keys: a changed earlier transaction (one that
        # records a certificate, say) is then named, not the signature that exposes it.
        # Every check below still runs before the root counts as verified.
        rebuilt = report.tree.root()
        if rebuilt != claimed:
            raise self._locate(tx, file, tree, rebuilt)
        if node_sig is not None:
            if (node_sig.view, node_sig.seqno) != (tx.view, tx.seqno):
                raise self.fail(tx, file, f"signature row says {node_sig.view}.{node_sig.seqno}")
            self._check_node_signature(tx, file, node_sig)
        if cose_sig is not None:
            self._check_cose(tx, file, cose_sig, claimed)
        report.signed_roots.append(
            SignedRoot(
                file=file,
                view=tx.view,
                seqno=tx.seqno,
                root=claimed,
                node=node_sig.node if node_sig else None,
                node_signature=node_sig is not None,
                tree_table=tree is not None,
                cose=cose_sig,
                service_cert=report.service_cert,
            )
        )

    def _check_node_signature(
        self, tx: Transaction, file: str, node_sig: sigs.NodeSignature
    ) -> None:
        known = self.node_certs.get(node_sig.node)
        if known is None:
            raise self.fail(
                tx, file, f"signing node {node_sig.node} has no certificate in the ledger"
            )
        if self.node_status.get(node_sig.node, "") in ("", "Pending"):
            raise self.fail(tx, file, f"signing node {node_sig.node} is not a trusted node")
        cert = known
        if node_sig.cert_pem is not None and sigs.load_cert(node_sig.cert_pem) != cert:
            raise self.fail(tx, file, "embedded node certificate differs from the ledger's")
        if not sigs.verify_root_signature(sigs.ec_key(cert), node_sig.root, node_sig.signature):
            raise self.fail(
                tx, file, f"node {node_sig.node} signature over the root does not verify"
            )
        service = self.report.service_cert
        if service is None:
            raise self.fail(tx, file, "node signature before any service certificate")
        if (cert, service) in self._endorsed:
            return
        try:
            cert.verify_directly_issued_by(service)
        except (ValueError, TypeError, InvalidSignature):
            raise self.fail(
                tx, file, f"node {node_sig.node} certificate is not issued by the service"
            ) from None
        # The same node signs many roots: check its certificate once per service certificate.
        self._endorsed.add((cert, service))

    def _check_cose(
        self, tx: Transaction, file: str, cose_sig: sigs.CoseRootSignature, root: bytes
    ) -> None:
        if (cose_sig.view, cose_sig.seqno) != (tx.view, tx.seqno):
            raise self.fail(tx, file, f"COSE signature names txid {cose_sig.view}.{cose_sig.seqno}")
        service = self.report.service_cert
        if service is None:
            raise self.fail(tx, file, "COSE signature before any service certificate")
        kid = hashlib.sha256(sigs.spki(service)).hexdigest().encode("ascii")
        if cose_sig.kid is not None and cose_sig.kid != kid:
            raise self.fail(tx, file, f"COSE kid {cose_sig.kid!r} is not the service key's {kid!r}")
        if not cose_sig.verify(sigs.ec_key(service), root):
            raise self.fail(tx, file, "COSE root signature by the service key does not verify")

    def _locate(
        self, tx: Transaction, file: str, tree: sigs.TreeTable | None, rebuilt: bytes
    ) -> LedgerVerificationError:
        ours = self.report.tree
        if tree is not None:
            for i, leaf in enumerate(tree.leaves, start=tree.first):
                if ours.node_hash(0, i) != leaf:
                    return LedgerVerificationError(
                        "transaction does not hash to its leaf in the tree recorded by "
                        f"signature transaction {tx.txid}",
                        file=file,
                        seqno=i,
                    )
        first = tree.first if tree is not None else 1
        return self.fail(
            tx,
            file,
            f"rebuilt root {rebuilt.hex()} differs from the signed root; "
            f"a transaction before seqno {first} was changed",
        )


def _tree_table_root(tree: sigs.TreeTable) -> bytes:
    compact = CompactTree(tree.first, tuple(reversed(tree.left_subtrees)), CCF)
    for leaf in tree.leaves:
        compact.append(leaf)
    return compact.root()


def _json_object(value: bytes, what: str) -> dict:
    try:
        obj = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise sigs.SignatureFormatError(f"{what} is not JSON ({e})") from None
    if not isinstance(obj, dict):
        raise sigs.SignatureFormatError(f"{what} is not a JSON object")
    return obj


class LedgerVerifier:
    """Incremental verification: feed committed chunks in seqno order, read `report`.

    The first chunk must start at seqno 1 and each next one where the previous ended. After
    a problem (kept in report.problem) further chunks are refused, so a caller polling a
    growing ledger (tlog.ccf.source) verifies each chunk once.
    """

    def __init__(self) -> None:
        self.report = LedgerReport(files=[])
        self._replay = _Replay(self.report)

    @property
    def next_seqno(self) -> int:
        return self.report.last_seqno + 1

    def add_chunk(self, name: str, data: bytes) -> None:
        """Parse and replay one chunk; structural errors about the chunk itself are raised."""
        report = self.report
        if report.problem is not None:
            raise report.problem
        chunk = parse_chunk(data, name)
        if chunk.first != self.next_seqno:
            what = "start" if self.next_seqno == 1 else f"follow seqno {self.next_seqno - 1}"
            raise MalformedLedgerError(
                f"chunk starts at seqno {chunk.first}; the ledger must {what} contiguously",
                file=name,
            )
        report.files.append(name)
        try:
            for i, rt in enumerate(chunk.transactions):
                tx = parse_transaction(rt.raw, file=name, offset=rt.offset, seqno=chunk.first + i)
                self._replay.add(tx, name)
        except CcfError as e:
            report.problem = e


def order_chunks(files: Iterable[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """(name, bytes) pairs sorted by the first seqno their name gives."""
    ordered = sorted(files, key=lambda f: committed_range(f[0])[0])
    if not ordered:
        raise MalformedLedgerError("no committed ledger chunks")
    return ordered


def verify_chunks(files: Iterable[tuple[str, bytes]]) -> LedgerReport:
    """Verify the ledger made of these (file name, bytes) chunks; the report keeps the tree.

    Structural errors of the set of chunks (names, gaps, offset tables) are raised; problems
    inside the transactions end the replay and are returned in report.problem, with every
    signed root verified before them.
    """
    verifier = LedgerVerifier()
    for name, data in order_chunks(files):
        if verifier.report.problem is not None:
            break
        verifier.add_chunk(name, data)
    return verifier.report
