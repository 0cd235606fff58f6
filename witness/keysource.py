"""Loading the witness's keys from the config: key files (owner-only) or an ssh-agent.

A key file must not be readable or writable by group or others: a witness key
that any local user can read is no longer the witness's alone, so the daemon
refuses to start and says how to fix it. An `ssh-agent:` key is found in the
agent at $SSH_AUTH_SOCK and probed with one signature at startup.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tlog.cosignature import CosignatureV1Signer
from tlog.errors import TlogError
from tlog.keys import Ed25519NoteSigner, parse_private_key
from witness.agent import AgentError, find_agent_key, socket_path
from witness.config import WitnessConfig
from witness.errors import ConfigError
from witness.keyring import KeyRing


def check_key_file_mode(path: Path) -> None:
    """Raise ConfigError if `path` is open to group or others (mode & 0o077)."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError as e:
        raise ConfigError(f"cannot use key file {path}: {e}") from None
    if mode & 0o077:
        raise ConfigError(
            f"key file {path} has mode {mode:04o}: group or others can read or write it; "
            f"a witness key must be the owner's alone: run chmod 600 {path}"
        )


def _load(
    config: WitnessConfig, key: str, path: Path | None, agent: str | None
) -> Ed25519NoteSigner:
    if agent is not None:
        try:
            return find_agent_key(config.name, agent, socket_path())
        except (AgentError, TlogError) as e:
            raise ConfigError(f"{config.path}: {key}: cannot use ssh-agent:{agent}: {e}") from None
    assert path is not None
    check_key_file_mode(path)
    try:
        signer = parse_private_key(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, TlogError) as e:
        raise ConfigError(f"{config.path}: {key}: cannot use {path}: {e}") from None
    if signer.name != config.name:
        raise ConfigError(
            f"{config.path}: name: {config.name!r} is not the name of the key in "
            f"{path} ({signer.name!r}); cosignatures carry the key's name"
        )
    return signer


def load_keyring(config: WitnessConfig) -> KeyRing:
    """The current key (key_file) and, with a [rotation] table, the previous key.

    Raises ConfigError naming the file and key for a key that cannot be used.
    """
    current = CosignatureV1Signer(_load(config, "key_file", config.key_file, config.key_agent))
    rotation = config.rotation
    if rotation is None:
        return KeyRing(current)
    previous = CosignatureV1Signer(
        _load(
            config,
            "rotation.previous_key_file",
            rotation.previous_key_file,
            rotation.previous_key_agent,
        )
    )
    if previous.key_id == current.key_id:
        raise ConfigError(
            f"{config.path}: rotation.previous_key_file: the previous key is the current key"
        )
    return KeyRing(current, previous, rotation.until)
