"""`witnessnet key generate|vkey`: Ed25519 key files in the Go note private-key format."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tlog.errors import TlogError

if TYPE_CHECKING:
    from tlog.keys import Ed25519Signer

ORDER = 10


def load_key_file(path: str | Path) -> Ed25519Signer:
    """Read a private key file written by `witnessnet key generate`."""
    from tlog.keys import parse_private_key

    return parse_private_key(Path(path).read_text(encoding="utf-8"))


def write_key_file(path: str | Path, signer: Ed25519Signer) -> None:
    """Create `path` with mode 0600; refuse to overwrite an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(signer.private_key_string() + "\n")
        f.flush()
        os.fsync(f.fileno())


def cmd_generate(args: argparse.Namespace) -> int:
    from tlog.keys import generate_signer

    try:
        signer = generate_signer(args.name)
        write_key_file(args.out, signer)
    except FileExistsError:
        print(f"error: {args.out} exists; refusing to overwrite a key", file=sys.stderr)
        return 2
    except (TlogError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(signer.vkey())
    return 0


def cmd_vkey(args: argparse.Namespace) -> int:
    try:
        signer = load_key_file(args.file)
    except (TlogError, OSError) as e:
        print(f"error: {args.file}: {e}", file=sys.stderr)
        return 2
    print(signer.vkey())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "key",
        help="generate Ed25519 signing keys and print verifier keys",
        description="Ed25519 keys in the Go note format: PRIVATE+KEY+<name>+<id>+<base64>.",
    )
    ks = p.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    g = ks.add_parser(
        "generate",
        help="create a new key file (mode 0600) and print its vkey",
        description=(
            "Create an Ed25519 private key file (mode 0600, never overwritten) and print the "
            "verifier key (vkey) on stdout. Example:\n"
            "  witnessnet key generate --name example.com/log --out log.key"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g.add_argument("--name", required=True, help="key name, e.g. example.com/witness (no '+')")
    g.add_argument("--out", required=True, help="private key file to create")
    g.set_defaults(func=cmd_generate)
    v = ks.add_parser("vkey", help="print the vkey of a private key file")
    v.add_argument("file", help="private key file")
    v.set_defaults(func=cmd_vkey)
