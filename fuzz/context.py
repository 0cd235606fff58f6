"""The fixed world the fuzz targets parse against: public keys from ../shared/vectors.

Keys are written out here, not read from the vectors, so that a target runs with
nothing but this checkout. The monkeys keys are the TEST keys of
transparency-dev/witness's tests (monkeys-consistency-5-to-8.txt); the sigsum
witness is the deterministic seed 0x11 00.. of the Sigsum test vectors.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from gossip.membership import Network, parse_network
from tlog.checkpoint import parse_checkpoint
from tlog.cosignature import CosignatureV1Signer, parse_cosigner_vkey
from tlog.keys import Ed25519Signer, parse_private_key, parse_vkey
from tlog.note import Verifier, parse_note
from tlog.scitt.trust_store import TrustStore, parse_trust_store

LOG_VKEYS = (
    "monkeys+db4d9f7e+AULaJMvTtDLHPUcUrjdDad9vDlh/PTfC2VV60JUtCfWT",
    "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    "rome.ct.filippo.io/2024h1+78f4abae+BTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABAFzPC3fap+uINc1"
    "RQ4eRbYMUt84+bKkA8GDLN8KwVdzAgYhYSv4kS8XSheGLAHCWhIJTJbuC3sL88bNMTtrsBM=",
    "pixel_transparency_log+72c878db+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABFPN7lzVIk2BOd3Nk33V"
    "pqqVttGwV8uChH+RX/HVfBiypVQFyh8o8Ny6fSdxNMgkSf9/VynrgADBeys0r4Q9uPA=",
    "transparency.dev-aw-ftlog-ci-3+3f689522+Aa1Eifq6rRC8qiK+bya07yV1fXyP156pEMsX7CFBC6gg",
)
WITNESS_VKEYS = (
    "ArmoredWitness-autumn-wood+863571a5+AesIVCbad7gbU07JnA6YfZD0qg4B1c8xF4ISdnt9vjip",
    "ArmoredWitness-dry-sunset+ae83a8fa+AQPzi+erfxCBvjk6nmndWU2aGEoO7zawoatven8Fvv/D",
    "ArmoredWitness-floral-sky+504ec40f+AekCmTmKTTnQMNqIigkj7PFnhogawSJD23PJ8M8qLYDm",
    "ArmoredWitness-small-breeze+7b3ada3a+AQAWYpUjfGGPQiWOgt6sLWap0P9rVOe+Ofu2uNZbO4FD",
    "ArmoredWitness-weathered-rain+ea3d386d+AWLblKp5JuiyrgRh6ev2nNJ5XAd+sc/mM2D2HW/b4d5S",
)
MONKEYS_SKEY = "PRIVATE+KEY+monkeys+db4d9f7e+ATWIAF3yVBG+Hv1rZFQoNt/BaURkLPtOFMAM2HrEeIr6"
# The witness that signs gossip messages in the seeds (the monkeys suite's TEST witness key).
GOSSIP_SKEY = "PRIVATE+KEY+witness+f13a86db+AaLa/dfyBhyo/m0Z7WCi98ENVZWtrP8pxgRNrx7tIWiA"
SIGSUM_WITNESS = CosignatureV1Signer(Ed25519Signer("example.org/witness", b"\x11" + bytes(31)))

# The monkeys log's checkpoint-5 vector: the checkpoint "we" have cosigned.
MONKEYS_5_NOTE = (
    "monkeys\n5\n41smjBUiAU70EtKlT6lIOIYtRTYxYXsDB+XHfcvu/BE=\n\n"
    "\u2014 monkeys 202fftzGl3LVoqjXfwCFZZXs8I+5G22+Ek2K0AOyBuSJ/8/CZawNF+6fNlTKOCd622pbzJNkkJFWuw9"
    "DbicZCkEx9AY=\n"
).encode()
MONKEYS_5 = parse_checkpoint(parse_note(MONKEYS_5_NOTE).text)

LOG_VERIFIERS: tuple[Verifier, ...] = tuple(parse_vkey(v) for v in LOG_VKEYS)
COSIGNERS: tuple[Verifier, ...] = (
    *(parse_cosigner_vkey(v) for v in WITNESS_VKEYS),
    SIGSUM_WITNESS.verifier(),
    CosignatureV1Signer(parse_private_key(GOSSIP_SKEY)).verifier(),
)
MONKEYS = parse_private_key(MONKEYS_SKEY)
GOSSIP_SIGNER = parse_private_key(GOSSIP_SKEY)
NETWORK: Network = parse_network(
    f"witness me {LOG_VKEYS[2]} https://me.example/\n"
    f"witness {GOSSIP_SIGNER.name} {GOSSIP_SIGNER.vkey()} https://peer.example/\n",
    "fuzz network",
)
ME = "me"


@functools.cache
def scitt_trust_store() -> TrustStore:
    """The real ESRP CTS trust store (checked in beside the SCITT seeds)."""
    path = Path(__file__).parent / "data" / "esrp-cts-db.json"
    return parse_trust_store(path.read_bytes(), path.name)


def trusted(origin: str) -> Sequence[Verifier] | None:
    """The verifiers of a log the fuzzed witness follows, by origin (None: unknown)."""
    found = [v for v in LOG_VERIFIERS if v.name == origin]
    return found or None
