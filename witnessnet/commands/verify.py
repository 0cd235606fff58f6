"""Relying-party checks: `witnessnet verify` and `witnessnet policy lint`.

`verify` checks a cosigned checkpoint against a C2SP tlog-policy (the library
calls are tlog.policy.verify_cosigned_checkpoint and tlog.merkle.verify_inclusion).
`policy lint` decides whether two policies are split-view safe: whether two
relying parties, one per policy, can be shown inconsistent checkpoints that
each one's quorum accepts, when at most f witnesses are faulty.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tlog.errors import MalformedProofError, PolicyError, ProofError, TlogError
from witnessnet.commands.release import RELEASE_ARGUMENTS, add_release_arguments
from witnessnet.commands.release import cmd_verify as release_verify

if TYPE_CHECKING:
    from tlog.policy import Policy, Witness

EXIT_OK, EXIT_REJECTED, EXIT_MALFORMED = 0, 1, 2

ORDER = 80


class _Malformed(Exception):
    """Input that is not what the command needs (exit 2)."""


def _load_policy(path: str) -> Policy:
    from tlog.policy import parse_policy

    try:
        return parse_policy(Path(path).read_bytes())
    except OSError as e:
        raise _Malformed(f"{path}: {e.strerror or e}") from None
    except PolicyError as e:
        raise _Malformed(f"{path}: {e}") from None


def _with_origin(policy: Policy, origin: str) -> Policy:
    """The policy whose log signs checkpoints of `origin` (see --log-origin)."""
    if policy.log_verifiers(origin):
        return policy
    if len(policy.logs) != 1:
        raise _Malformed(
            f"no log in the policy has origin {origin!r}, and the policy lists "
            f"{len(policy.logs)} logs, so --log-origin cannot say which one signs it"
        )
    log = dataclasses.replace(policy.logs[0], origin=origin)
    return dataclasses.replace(policy, logs=(log,))


def _leaf_hash(args: argparse.Namespace) -> bytes:
    from tlog.checkpoint import parse_hash
    from tlog.merkle import RFC6962

    if (args.entry is None) == (args.leaf_hash is None):
        raise _Malformed("--inclusion-proof needs exactly one of --entry and --leaf-hash")
    if args.leaf_hash is not None:
        return parse_hash(args.leaf_hash, "--leaf-hash")
    return RFC6962.leaf(Path(args.entry).read_bytes())


def _read_proof(path: str) -> list[bytes]:
    from tlog.checkpoint import parse_hash

    text = Path(path).read_bytes().decode("utf-8")
    return [
        parse_hash(line.strip(), f"{path} line {i}")
        for i, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]


def _verify(args: argparse.Namespace) -> list[str]:
    """The report lines; raise _Malformed, or a TlogError for a rejected checkpoint."""
    from tlog.checkpoint import parse_size
    from tlog.errors import UnverifiedNoteError
    from tlog.merkle import verify_inclusion
    from tlog.policy import verify_cosigned_checkpoint

    policy = _load_policy(args.policy)
    if args.log_origin is not None:
        policy = _with_origin(policy, args.log_origin)
    inclusion = None
    if args.inclusion_proof is not None:
        if args.index is None:
            raise _Malformed("--inclusion-proof needs --index")
        try:
            index = parse_size(args.index, "--index")
            inclusion = (_read_proof(args.inclusion_proof), index, _leaf_hash(args))
        except (OSError, UnicodeDecodeError, TlogError) as e:
            raise _Malformed(str(e)) from None
    elif args.index is not None or args.entry is not None or args.leaf_hash is not None:
        raise _Malformed("--index, --entry and --leaf-hash need --inclusion-proof")
    checkpoint, cosigners = verify_cosigned_checkpoint(sys.stdin.buffer.read(), policy)
    if args.log_origin is not None and checkpoint.origin != args.log_origin:
        raise UnverifiedNoteError(
            f"checkpoint origin is {checkpoint.origin!r}, not {args.log_origin!r}"
        )
    root = base64.b64encode(checkpoint.root).decode()
    names = ", ".join(sorted(cosigners)) or "nobody (the policy's quorum is none)"
    lines = [
        f"checkpoint: {checkpoint.origin} size {checkpoint.size} root {root}",
        f"cosigned by: {names}",
        f"quorum: {policy.quorum or 'none'} is met",
    ]
    if inclusion is not None:
        proof, index, leaf = inclusion
        try:
            verify_inclusion(leaf, index, checkpoint.size, proof, checkpoint.root)
        except MalformedProofError as e:
            raise ProofError(f"inclusion proof does not fit this checkpoint: {e}") from None
        lines.append(f"inclusion: entry {index} is in this tree")
    return lines


def cmd_verify_or_release(args: argparse.Namespace) -> int:
    """`verify --release` checks a firmware release; plain `verify` a checkpoint on stdin."""
    if args.release:
        missing = [f"--{a.replace('_', '-')}" for a in RELEASE_ARGUMENTS if not getattr(args, a)]
        if missing:
            print(f"error: --release needs {', '.join(missing)}", file=sys.stderr)
            return EXIT_MALFORMED
        return release_verify(args)
    if not args.policy:
        print("error: --policy is required (or use --release)", file=sys.stderr)
        return EXIT_MALFORMED
    return cmd_verify(args)


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        lines = _verify(args)
    except _Malformed as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_MALFORMED
    except (ProofError, PolicyError) as e:
        print(f"rejected: {e}", file=sys.stderr)
        return EXIT_REJECTED
    except TlogError as e:
        from tlog.errors import CheckpointError, MalformedNoteError

        if isinstance(e, MalformedNoteError | CheckpointError):
            print(f"error: checkpoint on stdin: {e}", file=sys.stderr)
            return EXIT_MALFORMED
        print(f"rejected: {e}", file=sys.stderr)
        return EXIT_REJECTED
    print("\n".join(lines))
    return EXIT_OK


@dataclass(frozen=True, slots=True)
class QuorumSize:
    """The fewest distinct witnesses that can satisfy a policy's quorum, and who counts.

    `k` is exact when no witness or group is a member of two groups under the
    quorum; otherwise it is a lower bound (`exact` False). `keys` are the
    public keys of the witnesses reachable from the quorum.
    """

    k: int
    exact: bool
    keys: frozenset[bytes]


def _public_key(w: Witness) -> bytes:
    from tlog.cosignature import CosignatureV1Verifier, MLDSA44CosignatureVerifier

    v = w.verifier
    if not isinstance(v, CosignatureV1Verifier | MLDSA44CosignatureVerifier):
        raise TypeError(f"witness {w.name} has a {type(v).__name__}, not a cosigner")
    return v.public


def _shared_bound(threshold: int, members: tuple[str, ...], k: dict[str, int]) -> int:
    """A lower bound on a group's quorum when members may share witnesses.

    A set that satisfies j witness members and threshold - j group members has at
    least j witnesses (direct members are distinct) and at least as many as each
    satisfied group needs, so at least the (threshold - j)-th smallest group bound.
    """
    groups = sorted(k[m] for m in members if m in k)
    direct = len(members) - len(groups)
    return min(
        max(j, groups[threshold - j - 1] if threshold > j else 0)
        for j in range(max(0, threshold - len(groups)), min(threshold, direct) + 1)
    )


def quorum_size(policy: Policy) -> QuorumSize:
    """Compute k and the witness keys for one policy (see QuorumSize)."""
    if policy.quorum is None:
        return QuorumSize(0, True, frozenset())
    groups = {g.name: g for g in policy.groups}
    witnesses = {w.name: w for w in policy.witnesses}
    reachable, stack = set(), [policy.quorum]
    uses: dict[str, int] = {}
    while stack:
        name = stack.pop()
        if name in reachable:
            continue
        reachable.add(name)
        for m in groups[name].members if name in groups else ():
            uses[m] = uses.get(m, 0) + 1
            stack.append(m)
    exact = all(n <= 1 for n in uses.values())
    k: dict[str, int] = {}
    for g in policy.groups:  # members are defined before the groups that use them
        if exact:
            k[g.name] = sum(sorted(k.get(m, 1) for m in g.members)[: g.threshold])
        else:
            k[g.name] = _shared_bound(g.threshold, g.members, k)
    keys = frozenset(_public_key(witnesses[n]) for n in reachable if n in witnesses)
    return QuorumSize(k.get(policy.quorum, 1), exact, keys)


def lint(paths: tuple[str, str], faulty: int) -> tuple[bool, list[str]]:
    """Whether two policies are split-view safe with `faulty` faulty witnesses, and why."""
    sizes = [quorum_size(_load_policy(p)) for p in paths]
    n = len(sizes[0].keys | sizes[1].keys)
    k1, k2 = sizes[0].k, sizes[1].k
    lines = []
    for i, (path, s) in enumerate(zip(paths, sizes, strict=True), 1):
        bound = "exactly" if s.exact else "at least (groups share members: a lower bound)"
        lines.append(
            f"policy {i} ({path}): a quorum needs {bound} k{i} = {s.k} of its "
            f"{len(s.keys)} witnesses"
        )
    lines.append(f"witnesses in either quorum, counted by key: n = {n}")
    overlap = k1 + k2 - n
    if k1 + k2 > n + faulty:
        lines.append(
            f"SAFE with f = {faulty}: k1 + k2 = {k1 + k2} > n + f = {n + faulty}. Any quorum of "
            f"policy 1 and any quorum of policy 2 share at least k1 + k2 - n = {overlap} "
            f"witnesses, more than the {faulty} that may be faulty, so an honest witness would "
            "have to cosign both sides of a split view, which it never does."
        )
        return True, lines
    lines.append(
        f"NOT PROVEN SAFE with f = {faulty}: k1 + k2 = {k1 + k2} <= n + f = {n + faulty}. Two "
        f"quorums may share only {max(overlap, 0)} witnesses, and {faulty} faulty ones could be "
        "all of them, so one log could show each relying party a different history. The check "
        "is conservative: group structure may still rule such quorums out."
    )
    return False, lines


def cmd_lint(args: argparse.Namespace) -> int:
    try:
        safe, lines = lint((args.policy1, args.policy2), args.faulty)
    except _Malformed as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_MALFORMED
    print("\n".join(lines))
    return EXIT_OK if safe else EXIT_REJECTED


def _faulty(s: str) -> int:
    if not s.isdigit():
        raise argparse.ArgumentTypeError(f"{s!r} is not a non-negative integer")
    return int(s)


LINT_HELP = """\
Two relying parties, one per policy, are split-view safe when no log can show them
inconsistent checkpoints that both quorums accept, as long as at most F witnesses are
faulty (cosign anything) and the rest are honest (never cosign two inconsistent
checkpoints).

  k  for each policy: the fewest distinct witnesses whose cosignatures satisfy its quorum.
     For a group of threshold t, that is the sum of the t smallest values of its members
     when no witness or group sits under two groups; otherwise the t-th smallest, a lower
     bound.
  n  the number of distinct witnesses (by public key) reachable from either quorum.

Any two quorums then share at least k1 + k2 - n witnesses, so k1 + k2 > n + F guarantees
that an honest witness is in both: SAFE (exit 0). Otherwise NOT PROVEN SAFE (exit 1):
the check is conservative, a lower k or a larger n never calls an unsafe pair safe.
Malformed policy files exit 2. A policy with 'quorum none' has k = 0 and is never safe.
"""


def register(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser(
        "verify",
        help="verify a cosigned checkpoint against a trust policy",
        description=(
            "Read a cosigned checkpoint note on stdin and check it against a C2SP tlog-policy "
            "file: a log the policy lists signed it, and the witnesses whose cosignatures "
            "verify meet the quorum. With --inclusion-proof, also check that an entry is in "
            "the checkpoint's tree. Prints the checkpoint and who cosigned it. Exit 0 only "
            "when the signature, the quorum and any inclusion proof hold; 1 when one of them "
            "does not (reason on stderr); 2 when an input is malformed or unreadable."
        ),
    )
    v.add_argument("--policy", help="C2SP tlog-policy file (required without --release)")
    v.add_argument(
        "--log-origin",
        help="the origin the checkpoint must have. When no policy log's key name is this "
        "origin and the policy lists exactly one log, that log's key signs checkpoints of "
        "this origin (for logs such as the Go checksum database whose key name differs)",
    )
    v.add_argument(
        "--inclusion-proof",
        metavar="FILE",
        help="RFC 6962 inclusion proof: base64 hashes, one per line",
    )
    v.add_argument("--index", help="leaf index of the entry (with --inclusion-proof)")
    v.add_argument("--entry", metavar="FILE", help="the entry's bytes (hashed as RFC 6962 leaf)")
    v.add_argument("--leaf-hash", metavar="B64", help="the entry's RFC 6962 leaf hash, base64")
    v.add_argument(
        "--release",
        action="store_true",
        help="instead: check that a firmware digest is in a cosigned log and is the latest "
        "authorised release of its component (same as `witnessnet release verify`; needs "
        "--digest, --component, --log, --log-vkey, --signer)",
    )
    add_release_arguments(v, required=False)
    v.set_defaults(func=cmd_verify_or_release)

    p = sub.add_parser(
        "policy",
        help="analyse trust policies",
        description="Analyse C2SP tlog-policy files.",
    )
    ps = p.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    lt = ps.add_parser(
        "lint",
        help="are two policies split-view safe with F faulty witnesses?",
        description=LINT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lt.add_argument("policy1", metavar="POLICY1")
    lt.add_argument("policy2", metavar="POLICY2")
    lt.add_argument(
        "--faulty", required=True, type=_faulty, metavar="F", help="witnesses that may be faulty"
    )
    lt.set_defaults(func=cmd_lint)
