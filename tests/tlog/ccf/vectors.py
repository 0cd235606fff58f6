"""The real CCF ledgers in ../shared/vectors and the expected values their READMEs state."""

from __future__ import annotations

import re
from pathlib import Path

from tests.vectors import VECTORS_DIR

LEDGERS = {
    "cts-canary": VECTORS_DIR / "ccf-ledger-cts-canary",
    "sgx-service": VECTORS_DIR / "ccf-ledger-sgx-service",
    "expired-service": VECTORS_DIR / "ccf-ledger-expired-service",
}


def chunk_files(ledger: str) -> list[tuple[str, bytes]]:
    """(name, bytes) of each committed chunk of a vector ledger."""
    return [(p.name, p.read_bytes()) for p in sorted(LEDGERS[ledger].glob("*.committed"))]


def readme(ledger: str) -> str:
    return (LEDGERS[ledger] / "README.txt").read_text()


def expected_roots(ledger: str) -> dict[int, str]:
    """seqno -> root as the README states it: full hex, or 'prefix...suffix' abbreviations."""
    text = readme(ledger)
    out: dict[int, str] = {}
    for m in re.finditer(r"sig 2\.(\d+)\s+root ([0-9a-f]{64})", text):
        out[int(m[1])] = m[2]
    for m in re.finditer(r"\b2\.(\d+) ([0-9a-f]{8}\.\.\.[0-9a-f]{4}|[0-9a-f]{64})\b", text):
        out[int(m[1])] = m[2]
    for m in re.finditer(r"\(2\.(\d+), size \d+\) =\s+([0-9a-f]{64})", text):
        out[int(m[1])] = m[2]
    return out


def root_matches(expected: str, root: bytes) -> bool:
    if "..." in expected:
        head, tail = expected.split("...")
        return root.hex().startswith(head) and root.hex().endswith(tail)
    return root.hex() == expected


def readme_consistency_proof(ledger: str) -> list[bytes]:
    """The hashes of the README's constructed consistency proof, in order."""
    text = readme(ledger)
    block = text.split("is (hex, in order):", 1)[1].split("and it verifies", 1)[0]
    return [bytes.fromhex(h) for h in re.findall(r"[0-9a-f]{64}", block)]


def signature_counts(ledger: str) -> int | None:
    m = re.search(r"(\d+) signatures", readme(ledger)) or re.search(
        r"(\w+) signature transactions", readme(ledger)
    )
    if m is None:
        return None
    words = {"Six": 6}
    return int(m[1]) if m[1].isdigit() else words.get(m[1])


def ledger_dir(ledger: str) -> Path:
    return LEDGERS[ledger]
