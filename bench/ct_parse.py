"""Benchmark parsing CT log entries against the raw leaf-hash rate measured in the same run.

Prints, each beside the limit a monitor cannot beat (it hashes every entry anyway):
- raw SHA-256 RFC 6962 leaf hashes/s over the same MerkleTreeLeaf bytes;
- MerkleTreeLeaf parses/s (tlog.ct.leaf.parse_leaf);
- full CT claims/s: leaf parse + strict DER walk for subject CN and SAN dNSNames
  (monitor.claims.ct.parse), half certificates and half precertificates;
- static-ct-api data tiles/s decoded into MerkleTreeLeafs, as entries/s.

Usage: python bench/ct_parse.py [--entries N]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.claims import ct as ct_claims
from tests.tlog.ct.helpers import precert_entry, x509_entry
from tlog.ct.leaf import encode_data_tile, parse_data_tile, parse_leaf


def per_second(fn: Callable[[bytes], object], items: Sequence[bytes], rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for item in items:
            fn(item)
    return rounds * len(items) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=512, help="distinct certificates")
    parser.add_argument("--rounds", type=int, default=40, help="passes over them")
    args = parser.parse_args()
    made = [
        (precert_entry if i % 2 else x509_entry)(i, [f"www{i}.example.com", f"*.s{i}.example.org"])
        for i in range(args.entries)
    ]
    leaves = [e.leaf for e in made]
    mean = sum(map(len, leaves)) / len(leaves)
    print(f"{len(leaves)} entries, mean MerkleTreeLeaf {mean:.0f} bytes, {args.rounds} rounds")

    sha = hashlib.sha256
    raw = per_second(lambda b: sha(b"\x00" + b).digest(), leaves, args.rounds)
    print(f"raw SHA-256 leaf hash:               {raw:12,.0f} entries/s   <- limit")
    leaf = per_second(parse_leaf, leaves, args.rounds)
    print(f"MerkleTreeLeaf parse:                {leaf:12,.0f} entries/s   ({leaf / raw:.0%})")
    claim = per_second(ct_claims.parse, leaves, args.rounds)
    print(f"CT claim (leaf + DER names):         {claim:12,.0f} entries/s   ({claim / raw:.0%})")
    tiles = [
        encode_data_tile([e.tile_leaf for e in made[i : i + 256]])
        for i in range(0, len(made) - 255, 256)
    ]
    if tiles:
        rate = per_second(
            lambda t: [x.merkle_tree_leaf() for x in parse_data_tile(t, 256)], tiles, args.rounds
        )
        print(
            f"static-ct data tile decode:          {rate * 256:12,.0f} entries/s   "
            f"({rate * 256 / raw:.0%})"
        )


if __name__ == "__main__":
    main()
