"""The monitor configuration: a full file parses; every error names file, key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.sinks import JsonLinesSink, StderrSink, builtin_sink
from tests.monitor.helpers import ALICE, LOG_KEY, PROVIDER, PUBLISHER

POLICY = f"log {LOG_KEY.vkey()}\nwitness w1 {PUBLISHER.vkey()}\nquorum w1\n"

GOOD = f"""\
state = "state/monitor.db"
poll_interval = 30
batch_size = 512

[[logs]]
name = "firmware"
origin = "example.com/firmware"
vkey = "{LOG_KEY.vkey()}"
url = "https://example.com/firmware/"
claims = ["firmware", "witnessnet-release"]
policy = "witnesses.policy"
checkpoints = ["https://witness.example/abc/checkpoint"]

[[logs]]
origin = "example.com/audit-only"
vkey = "{LOG_KEY.vkey()}"
url = "http://127.0.0.1:8080"
claims = []

[[components]]
name = "TRUSTED_OS"
signers = ["{PUBLISHER.vkey()}", "{PROVIDER.vkey()}"]
threshold = 2
builds = {{ "1.0.0" = "{"ab" * 32}" }}

[[providers]]
name = "example.com"
signers = ["{PROVIDER.vkey()}"]

[[issuers]]
name = "did:web:example.com"
certificates = ["{"cd" * 32}"]

[[identities]]
name = "alice@example.com"
keys = ["{ALICE.vkey()}"]

[[sinks]]
type = "jsonl"
path = "out/findings.jsonl"
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "witnesses.policy").write_text(POLICY)
    path = tmp_path / "monitor.toml"
    path.write_text(text)
    return path


def test_full_config(tmp_path: Path) -> None:
    c = load_config(write(tmp_path, GOOD))
    assert c.state == tmp_path / "state" / "monitor.db"
    assert (c.poll_interval, c.batch_size, c.connections) == (30, 512, 8)
    fw, audit = c.logs
    assert [t.name for t in fw.claims] == ["firmware", "witnessnet-release"]
    assert fw.policy is not None and fw.policy.quorum == "w1"
    assert audit.name == "example.com/audit-only" and audit.claims == () and audit.policy is None
    assert c.rules.components["TRUSTED_OS"].threshold == 2
    assert c.rules.components["TRUSTED_OS"].builds["1.0.0"] == "ab" * 32
    assert c.rules.issuers["did:web:example.com"].certificates == frozenset(["cd" * 32])
    assert c.rules.identities["alice@example.com"] == frozenset([ALICE.vkey()])
    (sink,) = c.sinks
    made = builtin_sink(sink)
    assert isinstance(made, JsonLinesSink) and made.path == tmp_path / "out" / "findings.jsonl"


def line_of(text: str, needle: str, nth: int = 0) -> int:
    lines = [i + 1 for i, line in enumerate(text.split("\n")) if needle in line]
    return lines[nth]


@pytest.mark.parametrize(
    ("old", "new", "key", "needle"),
    [
        ("poll_interval = 30", "poll_intervall = 30", "poll_intervall", "poll_intervall"),
        ('url = "http://127.0.0.1:8080"', 'url = "ftp://x"', "logs[1].url", "ftp://"),
        (f'vkey = "{LOG_KEY.vkey()}"', f'vkey = "{ALICE.vkey()}x"', "logs[0].vkey", 'x"'),
        ('claims = []', 'claims = ["pgp"]', "logs[1].claims[0]", 'claims = ["pgp"]'),
        ("threshold = 2", "threshold = 3", "components[0].threshold", "threshold"),
        ('"1.0.0" = "', '"1.0.0" = "0', "components[0].builds", "builds"),
        ('certificates = ["', 'certificates = ["0', "issuers[0].certificates[0]", "certificates"),
        ("batch_size = 512", "batch_size = 500", "batch_size", "batch_size"),
        ('type = "jsonl"', 'kind = "jsonl"', "sinks[0].type", "[[sinks]]"),
    ],
)  # fmt: skip
def test_errors_name_file_key_and_line(
    tmp_path: Path, old: str, new: str, key: str, needle: str
) -> None:
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    message = str(e.value)
    assert message.startswith(f"{path}: {key}:"), message
    assert message.endswith(f"(line {line_of(text, needle)})"), message


def test_missing_key_points_at_its_table(tmp_path: Path) -> None:
    text = GOOD.replace('origin = "example.com/audit-only"\n', "")
    with pytest.raises(ConfigError, match=r"logs\[1\]\.origin: missing \(required\) \(line 14\)"):
        load_config(write(tmp_path, text))


def test_policy_errors_carry_the_policy_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    (tmp_path / "witnesses.policy").write_text(POLICY + "quorum w1\n")
    with pytest.raises(ConfigError, match=r"logs\[0\]\.policy: witnesses.policy: line 4"):
        load_config(path)
    (tmp_path / "witnesses.policy").unlink()
    with pytest.raises(ConfigError, match=r"cannot read witnesses\.policy"):
        load_config(path)


def test_other_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "state = \n"))
    with pytest.raises(ConfigError, match="at least one"):
        load_config(write(tmp_path, 'state = "x"\n'))
    twice = GOOD.replace('origin = "example.com/audit-only"', 'name = "firmware"\norigin = "x"')
    with pytest.raises(ConfigError, match=r"logs\[1\]\.name: 'firmware' is also logs\[0\]"):
        load_config(write(tmp_path, twice))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_sinks(tmp_path: Path) -> None:
    c = load_config(write(tmp_path, GOOD.split("[[sinks]]")[0]))
    (default,) = c.sinks
    assert isinstance(builtin_sink(default), StderrSink)
    c = load_config(write(tmp_path, GOOD.replace('type = "jsonl"', 'type = "webhook"')))
    with pytest.raises(ConfigError, match=r"sinks\[0\] \(line \d+\): unknown sink type 'webhook'"):
        builtin_sink(c.sinks[0])
