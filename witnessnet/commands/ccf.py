"""`witnessnet ccf verify-ledger DIR`: replay a CCF ledger and check every signed root."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2

ORDER = 84

DESCRIPTION = """\
Read the committed chunks (ledger_<first>-<last>.committed) of a CCF ledger, parse every
transaction strictly, rebuild the ledger's Merkle tree with CCF's hash rule, and check every
signature transaction: the node signature over the root (with the node certificate the
ledger records, issued by the service certificate), the COSE root signature by the service
key where the ledger has one (CCF 5+), and the serialised tree it carries.

Each signed root is printed with its txid, tree size (= its seqno: leaf 0 is a placeholder,
leaf s is transaction s), root, signing node and check results. A changed transaction is
reported with its seqno. The last signature transaction is covered by no later signature;
the output says which seqnos a verified signature covers.

Directories contribute every committed chunk in them; other files there (open chunks,
snapshots) are ignored. Chunks must start at seqno 1 and be contiguous."""

EPILOG = """\
Exit status: 0 every signature verified, 1 the ledger is malformed or a check failed
(the message names file and seqno), 2 usage error (no such path, no committed chunks).

Example:
  witnessnet ccf verify-ledger /var/lib/ccf/ledger
  witnessnet ccf verify-ledger ledger_1-4.committed ledger_5-15.committed --json"""


def _root_json(s: Any) -> dict[str, Any]:
    cose = s.cose
    return {
        "txid": s.txid,
        "view": s.view,
        "seqno": s.seqno,
        "tree_size": s.size,
        "root": s.root.hex(),
        "file": s.file,
        "node": s.node,
        "node_signature": "ok" if s.node_signature else None,
        "cose_signature": "ok" if cose is not None else None,
        "checks": {
            "root_rebuilt": "ok",
            "tree_table": "ok" if s.tree_table else "absent",
            "node_signature": "ok" if s.node_signature else "absent",
            "node_certificate_issued_by_service": "ok" if s.node_signature else "absent",
            "cose_signature": "ok" if cose is not None else "absent",
        },
        "service_kid": cose.kid.decode("ascii", "replace") if cose and cose.kid else None,
        "issuer": cose.issuer if cose else None,
        "issued_at": cose.issued_at if cose else None,
    }


def _problem_json(e: Exception) -> dict[str, Any]:
    return {
        "error": type(e).__name__,
        "message": str(e),
        "file": getattr(e, "file", None) or None,
        "seqno": getattr(e, "seqno", None),
        "offset": getattr(e, "offset", None),
    }


def cmd_verify_ledger(args: argparse.Namespace) -> int:
    from tlog.ccf.errors import CcfError
    from tlog.ccf.files import committed_chunk_paths, read_chunk
    from tlog.ccf.verify import verify_chunks

    for p in args.paths:
        if not Path(p).exists():
            print(f"witnessnet ccf verify-ledger: {p}: no such file or directory", file=sys.stderr)
            return EXIT_USAGE
    try:
        paths = committed_chunk_paths(args.paths)
    except CcfError as e:
        print(f"witnessnet ccf verify-ledger: {e}", file=sys.stderr)
        return EXIT_USAGE
    if not paths:
        print("witnessnet ccf verify-ledger: no committed ledger chunks found", file=sys.stderr)
        return EXIT_USAGE
    try:
        report = verify_chunks((p.name, read_chunk(p)) for p in paths)
        problem: CcfError | None = report.problem
        if problem is None and not report.signed_roots:
            problem = CcfError("no signature transaction in the ledger: nothing is authenticated")
    except CcfError as e:
        report, problem = None, e
    roots = report.signed_roots if report else []
    if args.json:
        out = {
            "valid": problem is None,
            "files": report.files if report else [p.name for p in paths],
            "transactions": report.transactions if report else 0,
            "last_seqno": report.last_seqno if report else 0,
            "covered_seqno": report.covered_seqno if report else 0,
            "signed_roots": [_root_json(s) for s in roots],
            "problem": _problem_json(problem) if problem else None,
        }
        print(json.dumps(out, indent=2))
    else:
        for s in roots:
            r = _root_json(s)
            checks = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in r["checks"].items())
            print(
                f"signed root {r['txid']}: size {r['tree_size']} root {r['root']}\n"
                f"  signer: node {r['node']}"
                + (f", service {r['issuer']} (kid {r['service_kid']})" if r["issuer"] else "")
                + f"\n  checks: {checks}"
            )
        if report:
            print(
                f"{report.transactions} transactions in {len(paths)} file(s); seqnos "
                f"1..{report.covered_seqno} covered by a verified signature"
            )
        if problem is not None:
            print(f"INVALID: {problem}")
        else:
            print("valid")
    return EXIT_INVALID if problem is not None else EXIT_VALID


def _service_cert(path: str) -> Any:
    """The service certificate of a PEM file, or the current one of a ledger."""
    from tlog.ccf.files import verify_ledger
    from tlog.ccf.signatures import load_cert

    p = Path(path)
    if p.is_file() and not p.name.endswith(".committed"):
        return load_cert(p.read_bytes()), None
    report = verify_ledger([p])
    report.raise_for_problem()
    return report.service_cert, report


def cmd_vkey(args: argparse.Namespace) -> int:
    from tlog.ccf.errors import CcfError
    from tlog.ccf.heads import service_verifier
    from tlog.errors import TlogError

    if not Path(args.source).exists():
        print(f"witnessnet ccf vkey: {args.source}: no such file or directory", file=sys.stderr)
        return EXIT_USAGE
    try:
        cert, _ = _service_cert(args.source)
        if cert is None:
            raise CcfError(f"{args.source}: the ledger records no service certificate")
        print(service_verifier(args.origin, cert).vkey())
    except TlogError as e:
        print(f"witnessnet ccf vkey: {e}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_VALID


def cmd_checkpoint(args: argparse.Namespace) -> int:
    from tlog.ccf.errors import CcfError
    from tlog.ccf.heads import checkpoint_note, latest_cose_root, service_verifier
    from tlog.errors import TlogError

    if not Path(args.ledger).exists():
        print(f"witnessnet ccf checkpoint: {args.ledger}: no such directory", file=sys.stderr)
        return EXIT_USAGE
    try:
        cert, report = _service_cert(args.ledger)
        if report is None:
            raise CcfError(f"{args.ledger}: give a ledger directory, not a certificate")
        root = latest_cose_root(report, args.ledger)
        verifier = service_verifier(args.origin, root.service_cert or cert)
        sys.stdout.write(checkpoint_note(args.origin, root, verifier).to_bytes().decode())
    except TlogError as e:
        print(f"witnessnet ccf checkpoint: {e}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_VALID


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ccf",
        help="verify CCF ledgers",
        description="Tools for CCF (Confidential Consortium Framework) ledgers.",
    )
    ps = p.add_subparsers(dest="ccf_command", metavar="ACTION", required=True)
    v = ps.add_parser(
        "verify-ledger",
        help="rebuild a ledger's Merkle tree and check every signed root",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    v.add_argument("paths", nargs="+", metavar="DIR", help="ledger directory or chunk files")
    v.add_argument("--json", action="store_true", help="print a JSON report instead of text")
    v.set_defaults(func=cmd_verify_ledger)
    k = ps.add_parser(
        "vkey",
        help="print the note vkey of a CCF service's COSE root signatures",
        description="Print the vkey (type 0xff witnessnet/ccf-cose-root/v1, docs/ccf.md) "
        "with which witnesses verify checkpoints made from the service's COSE-signed roots. "
        "SOURCE is the service certificate (PEM) or a ledger directory, whose current "
        "service certificate is used after the ledger verifies. Check the certificate "
        "out of band: the vkey is the trust anchor.",
        epilog="Exit status: 0 printed, 1 the ledger or certificate is invalid, 2 usage.\n\n"
        "Example:\n  witnessnet ccf vkey --origin ledger.example.com service_cert.pem",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    k.add_argument("source", metavar="SOURCE", help="service certificate PEM or ledger directory")
    k.add_argument("--origin", required=True, help="checkpoint origin, also the key name")
    k.set_defaults(func=cmd_vkey)
    c = ps.add_parser(
        "checkpoint",
        help="print the newest COSE-signed root of a ledger as a checkpoint note",
        description="Verify the ledger, then print its newest COSE-signed root as a C2SP "
        "checkpoint note signed with the service's COSE signature (docs/ccf.md). Ledgers "
        "without COSE root signatures (CCF before 5) have none; the error says so.",
        epilog="Exit status: 0 printed, 1 invalid ledger or no COSE-signed root, 2 usage.",
    )
    c.add_argument("ledger", metavar="DIR", help="ledger directory or chunk file")
    c.add_argument("--origin", required=True, help="checkpoint origin, also the key name")
    c.set_defaults(func=cmd_checkpoint)
