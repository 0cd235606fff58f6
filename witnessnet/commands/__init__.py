"""Subcommand modules; each exposes `register(subparsers)`."""

from witnessnet.commands import demo, evidence, key, log, note, proof, verify, witness

COMMANDS = (key, note, proof, log, demo, witness, evidence, verify)
