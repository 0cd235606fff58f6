"""`witnessnet evidence verify`, `witnessnet verify` and `witnessnet policy lint`, run as the
installed console script; quorum_size directly."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from gossip.evidence import (
    Embedded,
    InconsistentSizesFile,
    Reason,
    build_inconsistent_sizes,
    build_same_size,
    build_suspicion,
    build_witness_equivocation,
)
from tests.gossip import (
    COSIGNERS,
    LOG,
    LOG_VERIFIERS,
    OTHER_LOG,
    WITNESS_KEYS,
    WITNESSES,
    checkpoint,
    cosign,
    forked,
)
from tlog.checkpoint import Checkpoint
from tlog.merkle import RFC6962
from tlog.note import parse_note, sign_note
from tlog.policy import parse_policy
from witnessnet.commands.verify import quorum_size

WITNESSNET = Path(sys.executable).parent / "witnessnet"
A, B = forked(5, 40)
SAME = build_same_size(checkpoint(A, 10), checkpoint(B, 10), LOG_VERIFIERS)
INCONSISTENT = build_inconsistent_sizes(
    checkpoint(A, 10), checkpoint(B, 20), B.consistency_proof(10, 20), LOG_VERIFIERS
)
EQUIVOCATION = build_witness_equivocation(
    SAME,
    [cosign(checkpoint(A, 10), COSIGNERS[0]), cosign(checkpoint(B, 10), COSIGNERS[0])],
    WITNESSES[0],
    LOG_VERIFIERS,
)
SUSPICION = build_suspicion(
    WITNESS_KEYS[1],
    Reason.NO_PROOF,
    5,
    "timeouts",
    checkpoint(A, 10),
    checkpoint(A, 20),
    LOG_VERIFIERS,
    1_700_000_000,
)
CONSISTENT = InconsistentSizesFile(
    Embedded.parse(checkpoint(A, 10), ""),
    Embedded.parse(checkpoint(A, 20), ""),
    None,
    tuple(A.consistency_proof(10, 20)),
).to_bytes()

LOG_VKEY = LOG.vkey()
POLICY = (
    f"log {LOG_VKEY}\n"
    + "".join(f"witness w{i} {COSIGNERS[i].vkey()}\n" for i in range(3))
    + f"witness w3 {WITNESS_KEYS[3].vkey()}\n"
    + "group main 2 w0 w1 w2\nquorum main\n"
)
SAFE_3_OF_4 = "".join(f"witness w{i} {WITNESS_KEYS[i].vkey()}\n" for i in range(4)) + (
    "group q 3 w0 w1 w2 w3\nquorum q\n"
)
GO_SUM = sign_note(Checkpoint("go.sum.example", 10, A.root(10)).body(), [LOG]).to_bytes()
COSIGNED = cosign(checkpoint(A, 10), COSIGNERS[0], COSIGNERS[1])
ONE_COSIGNATURE = cosign(checkpoint(A, 10), COSIGNERS[0])


def nested_policy() -> str:
    """X: 2 of x0..x2, Y: 2 of y0..y2, quorum: both groups (k = 4 of n = 6)."""
    keys = [k.vkey() for k in (*WITNESS_KEYS[:3], LOG, OTHER_LOG, WITNESS_KEYS[3])]
    lines = [f"witness x{i} {keys[i]}" for i in range(3)]
    lines += [f"witness y{i} {keys[3 + i]}" for i in range(3)]
    lines += ["group X 2 x0 x1 x2", "group Y 2 y0 y1 y2", "group both all X Y", "quorum both"]
    return "\n".join(lines) + "\n"


def shared_policy() -> str:
    """Two groups sharing w0 under one quorum: k is only a lower bound."""
    lines = [f"witness w{i} {WITNESS_KEYS[i].vkey()}" for i in range(3)]
    lines += ["group G1 2 w0 w1", "group G2 2 w0 w2", "group q all G1 G2", "quorum q"]
    return "\n".join(lines) + "\n"


FILES: dict[str, bytes] = {
    "same.ev": SAME,
    "inconsistent.ev": INCONSISTENT,
    "equivocation.ev": EQUIVOCATION,
    "suspicion.ev": SUSPICION,
    "consistent.ev": CONSISTENT,
    "garbage.ev": b"witnessnet-evidence/v1\nkind nonsense\n",
    "policy.txt": POLICY.encode(),
    "safe.txt": SAFE_3_OF_4.encode(),
    "nested.txt": nested_policy().encode(),
    "shared.txt": shared_policy().encode(),
    "none.txt": f"log {LOG_VKEY}\nquorum none\n".encode(),
    "bad-policy.txt": b"quorum nobody\n",
    "proof.txt": b"\n".join(base64.b64encode(h) for h in A.inclusion_proof(3, 10)) + b"\n",
    "entry.bin": b"common 3",
    "bad-proof.txt": b"not base64!\n",
}
LEAF = base64.b64encode(RFC6962.leaf(b"common 3")).decode()


@dataclass(frozen=True)
class Run:
    """Arguments ({dir} is the scratch directory), stdin, exit status, and text that stdout
    (status 0) or stderr (otherwise) must contain."""

    args: tuple[str, ...]
    status: int
    expect: str
    stdin: bytes = b""


def ev(name: str, *extra: str, status: int, expect: str, stdin: bytes = b"") -> Run:
    return Run(("evidence", "verify", name, "--log-vkey", LOG_VKEY, *extra), status, expect, stdin)


def verify(note: bytes, *extra: str, status: int, expect: str, policy: str = "policy") -> Run:
    return Run(("verify", "--policy", f"{{dir}}/{policy}.txt", *extra), status, expect, note)


def lint(a: str, b: str, f: str, status: int, expect: str) -> Run:
    return Run(("policy", "lint", f"{{dir}}/{a}", f"{{dir}}/{b}", "--faulty", f), status, expect)


WITNESS0 = ("--witness-vkey", WITNESS_KEYS[0].vkey())
INCLUSION = ("--inclusion-proof", "{dir}/proof.txt", "--index", "3")
RUNS: dict[str, Run] = {
    "same-size": ev("{dir}/same.ev", status=0, expect="PROOF OF LOG MISBEHAVIOUR: the log"),
    "inconsistent": ev("{dir}/inconsistent.ev", status=0, expect="is not a prefix"),
    "stdin": ev("-", status=0, expect="same size 10", stdin=SAME),
    "equivocation": ev(
        "{dir}/equivocation.ev", *WITNESS0, status=0, expect="PROOF OF WITNESS EQUIVOCATION"
    ),
    "equivocation-no-witness-key": ev(
        "{dir}/equivocation.ev", status=1, expect="no key given for witness w0.example/witness"
    ),
    "suspicion": ev(
        "{dir}/suspicion.ev",
        "--witness-vkey",
        WITNESS_KEYS[1].vkey(),
        status=1,
        expect="NOT PROOF: this is a suspicion",
    ),
    "consistent-pair": ev("{dir}/consistent.ev", status=1, expect="the checkpoints are consistent"),
    "wrong-log-key": Run(
        ("evidence", "verify", "{dir}/same.ev", "--log-vkey", OTHER_LOG.vkey()),
        1,
        "not signed by the log key",
    ),
    "malformed-file": ev("{dir}/garbage.ev", status=2, expect="unknown kind"),
    "missing-file": ev("{dir}/missing.ev", status=2, expect="missing.ev"),
    "bad-vkey": Run(("evidence", "verify", "{dir}/same.ev", "--log-vkey", "nonsense"), 2, "vkey"),
    "quorum-met": verify(COSIGNED, status=0, expect="cosigned by: w0, w1\nquorum: main is met"),
    "quorum-not-met": verify(ONE_COSIGNATURE, status=1, expect="has 1 of the 2 required"),
    "not-signed-by-log": verify(
        cosign(checkpoint(A, 10, OTHER_LOG), COSIGNERS[0], COSIGNERS[1]),
        status=1,
        expect="lists no log with origin 'example.com/other'",
    ),
    "malformed-note": verify(b"not a note\n", status=2, expect="checkpoint on stdin"),
    "malformed-policy": verify(COSIGNED, status=2, expect="bad-policy.txt", policy="bad-policy"),
    "inclusion-entry": verify(
        COSIGNED,
        *INCLUSION,
        "--entry",
        "{dir}/entry.bin",
        status=0,
        expect="inclusion: entry 3 is in this tree",
    ),
    "inclusion-leaf-hash": verify(
        COSIGNED, *INCLUSION, "--leaf-hash", LEAF, status=0, expect="inclusion: entry 3"
    ),
    "inclusion-wrong-index": verify(
        COSIGNED,
        "--inclusion-proof",
        "{dir}/proof.txt",
        "--index",
        "4",
        "--leaf-hash",
        LEAF,
        status=1,
        expect="inclusion proof for leaf 4",
    ),
    "inclusion-index-past-size": verify(
        COSIGNED,
        "--inclusion-proof",
        "{dir}/proof.txt",
        "--index",
        "10",
        "--leaf-hash",
        LEAF,
        status=1,
        expect="does not fit this checkpoint",
    ),
    "inclusion-bad-proof-file": verify(
        COSIGNED,
        "--inclusion-proof",
        "{dir}/bad-proof.txt",
        "--index",
        "3",
        "--leaf-hash",
        LEAF,
        status=2,
        expect="bad-proof.txt line 1",
    ),
    "inclusion-needs-one-leaf": verify(
        COSIGNED, *INCLUSION, status=2, expect="exactly one of --entry and --leaf-hash"
    ),
    "index-without-proof": verify(
        COSIGNED, "--index", "3", status=2, expect="need --inclusion-proof"
    ),
    "log-origin-differs-from-key-name": verify(
        cosign(GO_SUM, COSIGNERS[1], COSIGNERS[2]),
        "--log-origin",
        "go.sum.example",
        status=0,
        expect="checkpoint: go.sum.example size 10",
    ),
    "log-origin-needed": verify(
        cosign(GO_SUM, COSIGNERS[1], COSIGNERS[2]), status=1, expect="'go.sum.example'"
    ),
    "log-origin-mismatch": verify(
        COSIGNED, "--log-origin", "other.example", status=1, expect="lists no log with origin"
    ),
    "lint-safe": lint("safe.txt", "safe.txt", "1", 0, "SAFE with f = 1: k1 + k2 = 6 > n + f = 5"),
    "lint-unsafe": lint("safe.txt", "safe.txt", "2", 1, "NOT PROVEN SAFE with f = 2"),
    "lint-nested-safe": lint("nested.txt", "nested.txt", "1", 0, "exactly k1 = 4 of its 6"),
    "lint-mixed": lint("nested.txt", "safe.txt", "1", 1, "n = 6"),
    "lint-shared-safe": lint("shared.txt", "shared.txt", "0", 0, "a lower bound"),
    # Truly safe (every quorum is all 3 witnesses), but the lower bound k = 2 cannot show it.
    "lint-shared-conservative": lint("shared.txt", "shared.txt", "1", 1, "conservative"),
    "lint-quorum-none": lint("none.txt", "safe.txt", "0", 1, "k1 = 0"),
    "lint-malformed": lint("bad-policy.txt", "safe.txt", "0", 2, "bad-policy.txt"),
    "lint-bad-faulty": lint("safe.txt", "safe.txt", "-1", 2, "non-negative"),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess]:
    if not WITNESSNET.exists():
        pytest.fail(f"console script not installed at {WITNESSNET}")
    scratch = tmp_path_factory.mktemp("evidence-cli")
    for name, data in FILES.items():
        (scratch / name).write_bytes(data)

    def one(r: Run) -> subprocess.CompletedProcess[bytes]:
        args = [a.format(dir=scratch) for a in r.args]
        return subprocess.run(
            [str(WITNESSNET), *args], input=r.stdin, capture_output=True, timeout=60
        )

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(zip(RUNS, pool.map(one, RUNS.values()), strict=True))


@pytest.mark.parametrize("name", list(RUNS))
def test_cli(name: str, results: dict[str, subprocess.CompletedProcess[bytes]]) -> None:
    expected, result = RUNS[name], results[name]
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == expected.status, (out, err)
    if expected.status == 0 or (name.startswith("lint-") and expected.status == 1):
        assert expected.expect in out and err == ""
    else:
        assert out == ""
        assert err.startswith("rejected: " if expected.status == 1 else "error: ") or (
            "usage:" in err
        )
        assert expected.expect in err


def test_evidence_explanation_is_one_paragraph(
    results: dict[str, subprocess.CompletedProcess[bytes]],
) -> None:
    out = results["inconsistent"].stdout.decode()
    assert out.count("\n") == 1 and out.endswith("\n")


@pytest.mark.parametrize(
    ("policy", "k", "n", "exact"),
    [
        (POLICY, 2, 3, True),
        (SAFE_3_OF_4, 3, 4, True),
        (nested_policy(), 4, 6, True),
        (shared_policy(), 2, 3, False),
        (f"witness w {WITNESS_KEYS[0].vkey()}\nquorum w\n", 1, 1, True),
        ("quorum none\n", 0, 0, True),
    ],
)
def test_quorum_size(policy: str, k: int, n: int, exact: bool) -> None:
    s = quorum_size(parse_policy(policy))
    assert (s.k, len(s.keys), s.exact) == (k, n, exact)


def test_quorum_size_never_overestimates_with_shared_members() -> None:
    """With G1 = {w0, w1}, G2 = {w0, w2} both required, {w0, w1, w2} is the smallest quorum:
    3 witnesses. Summing the groups would claim 4, an unsafe overestimate; the bound is 2."""
    policy = parse_policy(shared_policy())
    assert quorum_size(policy).k == 2
    for cosigners, satisfied in (((0, 1), False), ((0, 2), False), ((0, 1, 2), True)):
        note = cosign(checkpoint(A, 1), *(COSIGNERS[i] for i in cosigners))
        assert policy.quorum_satisfied(parse_note(note)) is satisfied
