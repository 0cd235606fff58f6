"""Subcommand modules; each exposes `register(subparsers)`."""

from witnessnet.commands import demo, key, log, note, proof

COMMANDS = (key, note, proof, log, demo)
