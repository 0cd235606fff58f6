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
            cose = "ok" if r["cose_signature"] else "none"
            print(
                f"signed root {r['txid']}: size {r['tree_size']} root {r['root']}\n"
                f"  node {r['node']} signature ok, COSE root signature {cose}"
                + (f" (issuer {r['issuer']}, kid {r['service_kid']})" if r["issuer"] else "")
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
