"""Subcommand modules; each exposes `register(subparsers)`."""

from witnessnet.commands import demo, evidence, key, log, note, proof, verify

COMMANDS = (key, note, proof, log, demo, evidence, verify)
