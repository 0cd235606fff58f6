"""`witnessnet proof consistency|inclusion`: check RFC 6962 Merkle proofs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from tlog.errors import MalformedProofError, ProofError, TlogError

EXIT_VALID, EXIT_INVALID, EXIT_MALFORMED = 0, 1, 2

ORDER = 30


def read_proof() -> list[bytes]:
    """Base64 hashes from stdin, one per line; blank lines are ignored."""
    from tlog.checkpoint import parse_hash

    text = sys.stdin.buffer.read().decode("utf-8")
    return [
        parse_hash(line.strip(), f"proof line {i}")
        for i, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]


def _run(check: Callable[[], None]) -> int:
    try:
        check()
    except MalformedProofError as e:
        print(f"malformed: {e}", file=sys.stderr)
        return EXIT_MALFORMED
    except ProofError as e:
        print(f"invalid: {e}", file=sys.stderr)
        return EXIT_INVALID
    except (TlogError, UnicodeDecodeError) as e:
        print(f"malformed: {e}", file=sys.stderr)
        return EXIT_MALFORMED
    print("valid")
    return EXIT_VALID


def cmd_consistency(args: argparse.Namespace) -> int:
    from tlog.checkpoint import parse_hash, parse_size
    from tlog.merkle import verify_consistency

    def check() -> None:
        old_size = parse_size(args.old_size, "--old-size")
        new_size = parse_size(args.new_size, "--new-size")
        old_root = parse_hash(args.old_root, "--old-root")
        new_root = parse_hash(args.new_root, "--new-root")
        verify_consistency(old_size, new_size, old_root, new_root, read_proof())

    return _run(check)


def cmd_inclusion(args: argparse.Namespace) -> int:
    from tlog.checkpoint import parse_hash, parse_size
    from tlog.merkle import verify_inclusion

    def check() -> None:
        size = parse_size(args.size, "--size")
        index = parse_size(args.index, "--index")
        root = parse_hash(args.root, "--root")
        leaf = parse_hash(args.leaf_hash, "--leaf-hash")
        verify_inclusion(leaf, index, size, read_proof(), root)

    return _run(check)


EPILOG = "Exit status: 0 valid, 1 invalid, 2 malformed input."


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "proof",
        help="verify RFC 6962 consistency and inclusion proofs",
        description="Verify RFC 6962/9162 Merkle proofs read as base64 hashes, one per line, "
        "on stdin.",
        epilog=EPILOG,
    )
    ps = p.add_subparsers(dest="proof_command", metavar="KIND", required=True)
    c = ps.add_parser(
        "consistency",
        help="old tree is a prefix of the new tree",
        description="Verify that the tree (old-size, old-root) is a prefix of "
        "(new-size, new-root).",
        epilog=EPILOG,
    )
    c.add_argument("--old-size", required=True)
    c.add_argument("--old-root", required=True, help="base64 root hash")
    c.add_argument("--new-size", required=True)
    c.add_argument("--new-root", required=True, help="base64 root hash")
    c.set_defaults(func=cmd_consistency)
    i = ps.add_parser(
        "inclusion",
        help="a leaf is in the tree",
        description="Verify that leaf-hash is at index in the tree (size, root).",
        epilog=EPILOG,
    )
    i.add_argument("--size", required=True)
    i.add_argument("--root", required=True, help="base64 root hash")
    i.add_argument("--index", required=True)
    i.add_argument("--leaf-hash", required=True, help="base64 RFC 6962 leaf hash")
    i.set_defaults(func=cmd_inclusion)
