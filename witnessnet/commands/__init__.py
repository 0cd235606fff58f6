"""Subcommand modules; each exposes `register(subparsers)`."""

from witnessnet.commands import (
    claim,
    demo,
    evidence,
    key,
    log,
    monitor,
    note,
    proof,
    release,
    verify,
    witness,
)

COMMANDS = (key, note, proof, log, demo, witness, evidence, verify, monitor, claim, release)
