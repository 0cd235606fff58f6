"""Config validation: every error names the file, the key and, where it can, the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.witness.helpers import ToyLog
from witness.config import LogConfig, load_config, parse_config
from witness.errors import ConfigError

LOG = ToyLog("example.com/log", 1)
VKEY = LOG.vkey
COSIGNER_VKEY = "example.com/w+a10fe8ef+BAfo1HdW6ZG5tNh5yheBPMHqRd58NnsQmn0/6gfn+nbo"

GOOD = f"""\
name = "example.com/witness"
key_file = "keys/witness.key"
database = "/var/lib/witness/witness.db"
listen = "127.0.0.1:7380"
log_lists = ["https://example.org/log-list.1", "lists/extra.txt"]

[[logs]]
origin = "example.com/log"
vkeys = ["{VKEY}"]
qpd = 86400

[[logs]]
origin = "example.com/other"
vkeys = ["{VKEY}"]
tiles_url = "https://example.com/other/"
"""


def test_good_config(tmp_path: Path) -> None:
    path = tmp_path / "witness.toml"
    config = parse_config(GOOD, path)
    assert config.name == "example.com/witness"
    assert config.key_file == tmp_path / "keys" / "witness.key"
    assert config.database == Path("/var/lib/witness/witness.db")
    assert (config.host, config.port) == ("127.0.0.1", 7380)
    assert config.log_lists == ("https://example.org/log-list.1", str(tmp_path / "lists/extra.txt"))
    assert config.logs == (
        LogConfig("example.com/log", (VKEY,), None, 86400),
        LogConfig("example.com/other", (VKEY,), "https://example.com/other/", None),
    )
    assert (config.poll_interval, config.log_list_interval) == (30.0, 3600.0)


def test_intervals() -> None:
    text = GOOD.replace("log_lists", "poll_interval = 0.5\nlog_list_interval = 600\nlog_lists")
    config = parse_config(text, "w.toml")
    assert (config.poll_interval, config.log_list_interval) == (0.5, 600.0)
    for bad in ("0", "0.01", "100000", '"30"', "true"):
        with pytest.raises(ConfigError, match=r"^w.toml: poll_interval: must be a number"):
            parse_config(text.replace("poll_interval = 0.5", f"poll_interval = {bad}"), "w.toml")


def test_ipv6_listen_and_no_logs() -> None:
    text = GOOD.split("log_lists")[0].replace("127.0.0.1:7380", "[::1]:0")
    config = parse_config(text, "w.toml")
    assert (config.host, config.port, config.logs) == ("::1", 0, ())


def _replace(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "key", "problem", "line"),
    [
        (_replace('name = "example.com/witness"\n', ""), "name", "missing", None),
        (_replace('"example.com/witness"', '"has space"'), "name", "valid key name", 1),
        (_replace("key_file", "keyfile"), "keyfile", "did you mean 'key_file'", 2),
        (_replace('listen = "127.0.0.1:7380"', 'listen = "7380"'), "listen", "HOST:PORT", 4),
        (_replace('"127.0.0.1:7380"', '"localhost:99999"'), "listen", "HOST:PORT", 4),
        (_replace('listen = "127.0.0.1:7380"', "listen = 7380"), "listen", "string", 4),
        (_replace('"lists/extra.txt"', "3"), "log_lists[1]", "non-empty string", 5),
        (_replace("qpd = 86400", "qpd = 0"), "logs[0].qpd", "1..2147483647", 10),
        (_replace("qpd = 86400", 'qpd = "86400"'), "logs[0].qpd", "integer", 10),
        (_replace("qpd = 86400", "qdp = 1"), "logs[0].qdp", "did you mean 'qpd'", 10),
        (_replace('origin = "example.com/log"\n', ""), "logs[0].origin", "missing", 7),
        (_replace(f'vkeys = ["{VKEY}"]\nqpd', "vkeys = []\nqpd"), "logs[0].vkeys", "at least", 9),
        (_replace(f'vkeys = ["{VKEY}"]\nqpd', 'vkeys = "x"\nqpd'), "logs[0].vkeys", "array", 9),
        (
            _replace(f'vkeys = ["{VKEY}"]\ntiles', f'vkeys = ["{VKEY}", "nope"]\ntiles'),
            "logs[1].vkeys[1]",
            "want <name>+<hex key ID>+<base64 key>",
            14,
        ),
        (
            _replace(f'vkeys = ["{VKEY}"]\nqpd', f'vkeys = ["{COSIGNER_VKEY}"]\nqpd'),
            "logs[0].vkeys[0]",
            "cosigner key",
            9,
        ),
        (_replace('"https://example.com/other/"', '"ftp://x/"'), "logs[1].tiles_url", "http", 15),
        (_replace('"example.com/other"', '"example.com/log"'), "logs[1].origin", "logs[0]", 13),
        (
            _replace("tiles_url = ", 'kind = "ct"\ntiles_url = '),
            "logs[1].tiles_url",
            "short for",
            16,
        ),
        (
            _replace("tiles_url = ", 'kind = "git"\nurl = '),
            "logs[1].kind",
            "unknown ledger kind",
            15,
        ),
        (
            _replace('tiles_url = "https://example.com/other/"', 'kind = "tiles"'),
            "logs[1].kind",
            "url",
            15,
        ),
    ],
)
def test_errors_name_file_key_and_line(text: str, key: str, problem: str, line: int | None) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(text, "/etc/witness.toml")
    message = str(e.value)
    assert message.startswith(f"/etc/witness.toml: {key}: "), message
    assert problem in message
    if line is not None:
        assert message.endswith(f"(line {line})"), message


def test_logs_must_be_tables() -> None:
    text = GOOD.split("[[logs]]")[0] + 'logs = "example.com/log"\n'
    with pytest.raises(ConfigError, match=r"w.toml: logs: must be an array of tables"):
        parse_config(text, "w.toml")
    text = GOOD.split("[[logs]]")[0] + 'logs = ["example.com/log"]\n'
    with pytest.raises(ConfigError, match=r"w.toml: logs\[0\]: must be a table"):
        parse_config(text, "w.toml")


def test_toml_syntax_error_names_line() -> None:
    with pytest.raises(ConfigError, match=r"^w.toml: invalid TOML: .*line 3"):
        parse_config('name = "a"\nkey_file = "k"\ndatabase = \n', "w.toml")


def test_load_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read"):
        load_config(tmp_path / "missing.toml")


def test_load_config_reads_file(tmp_path: Path) -> None:
    path = tmp_path / "witness.toml"
    path.write_text(GOOD)
    assert load_config(path).path == path


def test_url_and_kind(tmp_path: Path) -> None:
    """`url` with a `kind` names a ledger; `tiles_url` is short for kind "tiles"."""
    text = GOOD.replace(
        'tiles_url = "https://example.com/other/"', 'url = "https://log.example/"\nkind = "tiles"'
    )
    config = parse_config(text, tmp_path / "witness.toml")
    assert config.logs[1] == LogConfig(
        "example.com/other", (VKEY,), "https://log.example/", None, kind="tiles"
    )
    assert parse_config(GOOD, tmp_path / "witness.toml").logs[1].kind == "tiles"
