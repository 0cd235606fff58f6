"""`witnessnet claim sign|submit`: create signed release and key claims; add them to a log."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

SIGN_DESCRIPTION = """\
Print a signed claim (a C2SP signed note) on stdout, or to --out. Formats: docs/monitor.md.

  release       witnessnet release claim (witnessnet.dev/release/v1)
  firmware      firmware manifest in the Armored Witness JSON format
  key-binding   an identity provider's binding of an identity to a key

Sign with one or more --key files (witnessnet key generate); a component configured with a
threshold needs that many. Exit 0, or 2 on a bad field or key file.

Example:
  witnessnet claim sign release --key release.key --component witnessnet --version 1.2.0 \\
      --commit $(git rev-parse HEAD) --artifact dist/witnessnet.tar.gz > release.note
  witnessnet claim submit --log http://127.0.0.1:8080 release.note
"""

SUBMIT_DESCRIPTION = """\
POST the file (or stdin with -) to LOG/add, the reference log's add endpoint, and print the
entry's index once the log has published a checkpoint that includes it.
Exit 0 added; 1 the log refused it (its answer on stderr); 2 bad arguments or unreachable.
"""

ORDER = 100


def _digest(args: argparse.Namespace) -> str:
    if args.artifact is not None:
        h = hashlib.sha256()
        with open(args.artifact, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    return str(args.sha256).lower()


def _text(args: argparse.Namespace) -> str:
    from monitor.claims import firmware, keybinding, release

    if args.kind == "release":
        return release.release_text(
            args.component, args.version, args.commit, _digest(args), args.url
        )
    if args.kind == "firmware":
        digest, commit = _digest(args), args.commit.lower()
        release.check_fields(args.component, args.version, commit, digest, None)
        return firmware.manifest_json(args.component, args.version, commit, bytes.fromhex(digest))
    return keybinding.binding_text(args.provider, args.identity, args.bind)


def cmd_sign(args: argparse.Namespace) -> int:
    from monitor.errors import MalformedClaimError
    from tlog.errors import TlogError
    from tlog.note import sign_note
    from witnessnet.commands.key import load_key_file

    try:
        signers = [load_key_file(k) for k in args.key]
        note = sign_note(_text(args), signers).to_bytes()
    except (MalformedClaimError, TlogError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).write_bytes(note)
    else:
        sys.stdout.buffer.write(note)
        sys.stdout.flush()
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    import httpx

    try:
        body = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as e:
        print(f"error: {args.file}: {e.strerror}", file=sys.stderr)
        return 2
    url = f"{args.log.rstrip('/')}/add"
    try:
        resp = httpx.post(url, content=body, timeout=args.timeout)
    except httpx.HTTPError as e:
        print(f"error: {url}: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    if resp.status_code != 200:
        print(f"error: {url} answered {resp.status_code}: {resp.text.strip()}", file=sys.stderr)
        return 1
    print(resp.text.strip())
    return 0


def _release_fields(p: argparse.ArgumentParser) -> None:
    p.add_argument("--component", required=True, help="component name, e.g. TRUSTED_OS")
    p.add_argument("--version", required=True, help="semantic version, e.g. 1.4.0")
    p.add_argument("--commit", required=True, help="source revision (40 or 64 hex digits)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--sha256", help="SHA-256 of the artifact (64 hex digits)")
    g.add_argument("--artifact", help="the artifact file (its SHA-256 is computed)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "claim",
        help="create signed release and key claims, add them to a log",
        description="Publisher tools for the claims monitors check (docs/monitor.md).",
    )
    cs = p.add_subparsers(dest="claim_command", metavar="ACTION", required=True)
    s = cs.add_parser(
        "sign",
        help="print a signed claim",
        description=SIGN_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kinds = s.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind, summary in (
        ("release", "a witnessnet release claim"),
        ("firmware", "a firmware manifest (Armored Witness format)"),
        ("key-binding", "an identity -> key binding, signed by the identity's provider"),
    ):
        k = kinds.add_parser(kind, help=summary, description=SIGN_DESCRIPTION,
                             formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        k.add_argument("--key", action="append", required=True, help="signing key file (repeat)")
        k.add_argument("--out", help="write the signed note here instead of stdout")
        if kind == "key-binding":
            k.add_argument("--provider", required=True, help="provider name, e.g. example.com")
            k.add_argument("--identity", required=True, help="identity, e.g. alice@example.com")
            k.add_argument("--bind", required=True, metavar="VKEY", help="the identity's vkey")
        else:
            _release_fields(k)
        if kind == "release":
            k.add_argument("--url", help="where the artifact is published (optional)")
        k.set_defaults(func=cmd_sign)
    m = cs.add_parser(
        "submit",
        help="add a claim to a log (POST /add)",
        description=SUBMIT_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m.add_argument("--log", required=True, help="the log's base URL")
    m.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    m.add_argument("file", help="the signed claim, or - for stdin")
    m.set_defaults(func=cmd_submit)
