"""Subcommand modules; each exposes `register(subparsers)`."""

from witnessnet.commands import key, note, proof

COMMANDS = (key, note, proof)
