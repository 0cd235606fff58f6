"""The [gossip] table of witness.toml: defaults, and errors that name file, key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from witness.config import GossipConfig, parse_config
from witness.errors import ConfigError

BASE = """\
name = "example.com/witness"
key_file = "witness.key"
database = "witness.db"
listen = "127.0.0.1:0"
"""


def test_gossip_table(tmp_path: Path) -> None:
    assert parse_config(BASE, tmp_path / "w.toml").gossip is None
    text = BASE + '\n[gossip]\nnetwork_file = "net/network.txt"\n'
    assert parse_config(text, tmp_path / "w.toml").gossip == GossipConfig(
        tmp_path / "net" / "network.txt"
    )
    text += "enabled = false\ninterval_seconds = 0.5\ntimeout_seconds = 2\nproof_attempts = 5\n"
    assert parse_config(text, tmp_path / "w.toml").gossip == GossipConfig(
        tmp_path / "net" / "network.txt", False, 0.5, 2.0, 5
    )


N = 'network_file = "n.txt"\n'


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ("enabled = true\n", r"gossip\.network_file: missing \(required\) \(line 6\)"),
        ('network_file = ""\n', r"gossip\.network_file: must be a non-empty string \(line 7\)"),
        (N + "interval = 3\n", r"gossip\.interval: unknown key \(did you mean 'interval_seconds'"),
        (N + "interval_seconds = 0\n", r"gossip\.interval_seconds: must be a number .*\(line 8\)"),
        (N + 'interval_seconds = "10"\n', r"gossip\.interval_seconds: must be a number"),
        (N + "timeout_seconds = 301\n", r"gossip\.timeout_seconds: must be a number .*0\.1\.\.300"),
        (N + "enabled = 1\n", r"gossip\.enabled: must be true or false \(line 8\)"),
        (N + "proof_attempts = 0\n", r"gossip\.proof_attempts: must be an integer in 1\.\.1000"),
        (N + "proof_attempts = 2.5\n", r"gossip\.proof_attempts: must be an integer"),
    ],
)
def test_gossip_errors(table: str, error: str) -> None:
    with pytest.raises(ConfigError, match=rf"^w\.toml: {error}"):
        parse_config(BASE + "\n[gossip]\n" + table, "w.toml")


def test_alerts_must_be_a_table() -> None:
    with pytest.raises(ConfigError, match=r"^w\.toml: alerts: must be a table"):
        parse_config(BASE + 'alerts = "yes"\n', "w.toml")
    config = parse_config(BASE + '[alerts]\nwebhooks = ["https://a.example/hook"]\n', "w.toml")
    assert dict(config.alerts) == {"webhooks": ["https://a.example/hook"]}
