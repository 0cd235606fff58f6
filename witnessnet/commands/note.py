"""`witnessnet note sign|verify`: C2SP signed notes on stdin/stdout."""

from __future__ import annotations

import argparse
import sys

from tlog.errors import InvalidSignatureError, TlogError, UnverifiedNoteError
from witnessnet.commands.key import load_key_file

ORDER = 20


def cmd_sign(args: argparse.Namespace) -> int:
    from tlog.note import sign_note

    try:
        signer = load_key_file(args.key)
        text = sys.stdin.buffer.read().decode("utf-8")
        note = sign_note(text, [signer])
    except (TlogError, OSError, UnicodeDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    sys.stdout.buffer.write(note.to_bytes())
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from tlog.keys import parse_vkey
    from tlog.note import parse_note, verify_note

    try:
        verifiers = [parse_vkey(v) for v in args.vkey]
        note = parse_note(sys.stdin.buffer.read())
    except TlogError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        verified = verify_note(note, verifiers)
    except (UnverifiedNoteError, InvalidSignatureError) as e:
        print(f"rejected: {e}", file=sys.stderr)
        return 1
    for v in verified:
        print(v.name)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "note",
        help="sign and verify C2SP signed notes",
        description="Sign and verify C2SP signed notes (c2sp.org/signed-note).",
    )
    ns = p.add_subparsers(dest="note_command", metavar="ACTION", required=True)
    s = ns.add_parser(
        "sign",
        help="sign the note text on stdin",
        description="Read note text (UTF-8, ending in a newline) on stdin; print the signed note.",
    )
    s.add_argument("--key", required=True, help="private key file (witnessnet key generate)")
    s.set_defaults(func=cmd_sign)
    v = ns.add_parser(
        "verify",
        help="verify the signed note on stdin",
        description=(
            "Read a signed note on stdin. Exit 0 and print the names of the signers that "
            "verified, one per line; exit 1 with the reason on stderr when no known key "
            "signed it or a known key's signature fails; exit 2 when the note or a vkey "
            "is malformed. Signatures by keys not given with --vkey are ignored."
        ),
    )
    v.add_argument(
        "--vkey", action="append", required=True, help="a trusted verifier key (repeatable)"
    )
    v.set_defaults(func=cmd_verify)
