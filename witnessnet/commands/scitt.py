"""`witnessnet scitt verify|receipt|ccf-receipt|vkey`: SCITT statements, receipts, service vkeys."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tlog.errors import TlogError

ORDER = 85
EXIT_VERIFIED, EXIT_FAILED, EXIT_UNCHECKED = 0, 1, 2
_EXIT = {"ok": EXIT_VERIFIED, "failed": EXIT_FAILED, "malformed": EXIT_UNCHECKED}
_WORDS = {
    "ok": "verified",
    "failed": "FAILED",
    "malformed": "MALFORMED",
    "unavailable": "NOT CHECKED",
}

EPILOG = """\
exit status:
  0  verified: every check passed (issuer signature and identity, every receipt's proof,
     service key and signature)
  1  failed: a check ran and was wrong (bad signature, proof to another root, leaf for
     another statement)
  2  not checked: malformed input, or a key or input was unavailable (the report names
     which issuer, kid and service); nothing was found wrong, but nothing is proven

trust store formats (--trust-store, JSON; see docs/scitt.md):
  {"parameters": [{"serviceCertificate": "<base64 DER>", ...}]}   CCF/Azure CTS store
  {"issuers": {"<iss>": {"keys": [<JWK>], "certificates": ["<base64 DER>"]}}}
  {"keys": [<JWK>]}                                                 JWKS, any issuer
"""


def _load_store(path: str | None) -> Any:
    if path is None:
        return None
    from tlog.scitt.trust_store import parse_trust_store

    return parse_trust_store(Path(path).read_bytes(), path)


def _hex32(value: str | None, flag: str) -> bytes | None:
    if value is None:
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise TlogError(f"{flag}: want 64 hex digits")
    return raw


def _print_checks(checks: Any, indent: str) -> None:
    for c in checks:
        print(f"{indent}{c.status:<11} {c.name}: {c.detail}")


def _print_receipt(r: Any) -> None:
    print(f"receipt {r.index}: {_WORDS[r.status]}")
    print(f"  service:     {r.service or '(unknown)'}")
    alg = "" if r.alg is None else f", alg {_alg(r.alg)}"
    print(f"  tree alg:    {r.tree_alg or '(unknown)'}{alg}, kid {r.kid or '(none)'}")
    root = r.signed_root
    if root is not None:
        extra = [f"tree size {root.tree_size}"] if root.tree_size is not None else []
        if root.ccf_txid:
            extra.append(f"txid {root.ccf_txid}")
        signed = "signed root" if root.signature_checked else "root (signature not checked)"
        print(f"  {signed}: {root.root.hex()} ({', '.join(extra) or 'size unknown'})")
    _print_checks(r.checks, "  ")


def _alg(alg: int) -> str:
    from tlog.cose.algorithms import alg_name

    return alg_name(alg)


def _finish(status: str, doc: dict[str, Any], as_json: bool) -> int:
    if as_json:
        json.dump(doc, sys.stdout, indent=2)
        print()
    else:
        print(f"result: {_WORDS[status]}")
    return _EXIT.get(status, EXIT_UNCHECKED)


def _guard(run: Any) -> int:
    try:
        return int(run())
    except (TlogError, OSError) as e:
        print(f"witnessnet scitt: {e}", file=sys.stderr)
        return EXIT_UNCHECKED


def cmd_verify(args: argparse.Namespace) -> int:
    def run() -> int:
        from tlog.scitt.statement import verify_statement

        store = _load_store(args.trust_store)
        payload = Path(args.payload).read_bytes() if args.payload else None
        report = verify_statement(Path(args.statement).read_bytes(), store, payload)
        if not args.json:
            print(f"statement: {_WORDS[report.status]}")
            print(f"  issuer:      {report.issuer}")
            print(f"  subject:     {report.subject}")
            alg = None if report.alg is None else _alg(report.alg)
            print(f"  alg:         {alg}, content type {report.content_type}")
            _print_checks(report.checks, "  ")
            for r in report.receipts:
                _print_receipt(r)
        return _finish(report.status, report.to_json(), args.json)

    return _guard(run)


def cmd_receipt(args: argparse.Namespace) -> int:
    def run() -> int:
        from tlog.scitt.statement import verify_receipt_file

        store = _load_store(args.trust_store)
        entry = Path(args.entry).read_bytes() if args.entry else None
        report = verify_receipt_file(
            Path(args.receipt).read_bytes(),
            store,
            entry=entry,
            entry_hash=_hex32(args.leaf_hash, "--leaf-hash"),
            old_root=_hex32(args.old_root, "--old-root"),
        )
        if not args.json:
            _print_receipt(report)
        return _finish(report.status, report.to_json(), args.json)

    return _guard(run)


def cmd_ccf_receipt(args: argparse.Namespace) -> int:
    def run() -> int:
        from tlog.cose.keys import load_certificate
        from tlog.scitt.ccf_json_receipt import check_ccf_json_receipt, parse_ccf_json_receipt
        from tlog.scitt.report import worst

        receipt = parse_ccf_json_receipt(Path(args.receipt).read_bytes())
        service = None
        if args.service_cert:
            service = load_certificate(Path(args.service_cert).read_bytes(), args.service_cert)
        root, checks = check_ccf_json_receipt(receipt, service)
        status = worst([c.status for c in checks])
        doc = {
            "status": status,
            "root": root.hex(),
            "commit_evidence": receipt.leaf.internal_evidence,
            "checks": [c.to_json() for c in checks],
        }
        if not args.json:
            print(f"CCF receipt: {_WORDS[status]}")
            print(f"  transaction: {receipt.leaf.internal_evidence}")
            print(f"  root:        {root.hex()}")
            _print_checks(checks, "  ")
        return _finish(status, doc, args.json)

    return _guard(run)


def cmd_vkey(args: argparse.Namespace) -> int:
    def run() -> int:
        from tlog.cose.keys import spki_der
        from tlog.keys import CoseRfc9162Verifier

        store = _load_store(args.trust_store)
        kid = None if args.kid is None else args.kid.encode("utf-8")
        trusted = store.lookup(args.issuer, kid, "service")
        print(CoseRfc9162Verifier(args.issuer, trusted.kid, spki_der(trusted.key)).vkey())
        return EXIT_VERIFIED

    return _guard(run)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scitt",
        help="verify SCITT transparent statements and COSE/CCF receipts",
        description="Check SCITT signed and transparent statements (COSE_Sign1 with COSE "
        "receipts, RFC 9942) and CCF receipts offline, as far as the keys you trust allow.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ps = p.add_subparsers(dest="scitt_command", metavar="COMMAND", required=True)
    v = ps.add_parser(
        "verify",
        help="a transparent statement: issuer signature and every receipt",
        description="Verify a signed or transparent statement: the issuer's signature (key "
        "from x5chain, with did:x509 resolution, or from the trust store by iss and kid), "
        "then each receipt in header 394: its Merkle proof that the signed statement is in "
        "the service's log, and the service's signature over the root (key from the trust "
        "store by the receipt's iss and kid). Prints each receipt's service, tree algorithm "
        "and signed root.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    v.add_argument("statement", metavar="STATEMENT", help="COSE_Sign1 file (.cose)")
    v.add_argument("--trust-store", required=True, metavar="FILE", help="service/issuer keys")
    v.add_argument("--payload", metavar="FILE", help="the payload, if the statement detaches it")
    v.add_argument("--json", action="store_true", help="print the full report as JSON")
    v.set_defaults(func=cmd_verify)
    r = ps.add_parser(
        "receipt",
        help="a bare COSE receipt (inclusion or consistency)",
        description="Verify one COSE receipt. Inclusion: give the entry (--entry) or its hash "
        "(--leaf-hash: the RFC 6962 leaf hash for RFC9162_SHA256, the data hash for "
        "CCF_LEDGER_SHA256). Consistency: give the root you trust for the old size "
        "(--old-root); without it the old root the proof implies is printed for you to "
        "compare.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("receipt", metavar="RECEIPT", help="tagged COSE_Sign1 receipt file")
    r.add_argument("--trust-store", metavar="FILE", help="service keys (else: not checked)")
    leaf = r.add_mutually_exclusive_group()
    leaf.add_argument("--entry", metavar="FILE", help="the entry the receipt proves included")
    leaf.add_argument("--leaf-hash", metavar="HEX", help="its leaf (RFC 9162) or data (CCF) hash")
    r.add_argument("--old-root", metavar="HEX", help="trusted root of the old tree size")
    r.add_argument("--json", action="store_true", help="print the report as JSON")
    r.set_defaults(func=cmd_receipt)
    c = ps.add_parser(
        "ccf-receipt",
        help="a CCF JSON write receipt",
        description="Verify a CCF JSON write receipt: the leaf from its components, the root "
        "from the proof, the node's signature over the root, the node id, and (with "
        "--service-cert) the node certificate's endorsement by the service identity.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("receipt", metavar="RECEIPT", help="JSON receipt file")
    c.add_argument("--service-cert", metavar="PEM", help="the service identity certificate")
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.set_defaults(func=cmd_ccf_receipt)
    k = ps.add_parser(
        "vkey",
        help="print the note vkey of an RFC9162_SHA256 service's receipt signatures",
        description="Print the vkey (type 0xff witnessnet/cose-rfc9162-root/v1, docs/scitt.md) "
        "with which witnesses and monitors verify checkpoints made from a SCITT service's "
        'RFC9162_SHA256 receipts (kind = "scitt"). The key is the trust store\'s key for '
        "the issuer (and kid); the issuer, the receipts' CWT iss, is the key name and the "
        "checkpoint origin. CCF-based services (CCF_LEDGER_SHA256) use `witnessnet ccf vkey`.",
        epilog="Exit status: 0 printed, 2 no such key, or the store is unreadable.\n\n"
        "Example:\n  witnessnet scitt vkey --trust-store store.json --issuer https://ts.example",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    k.add_argument("--trust-store", required=True, metavar="FILE", help="service keys (JSON)")
    k.add_argument("--issuer", required=True, help="the service's CWT iss: origin and key name")
    k.add_argument("--kid", help="the key's kid (UTF-8), if the issuer has more than one key")
    k.set_defaults(func=cmd_vkey)
