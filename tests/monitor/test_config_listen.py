"""The monitor's `listen` and `stall_after` settings: defaults, values, precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import DEFAULT_STALL_AFTER, MonitorConfig, parse_config
from monitor.errors import ConfigError
from tests.monitor.helpers import LOG_KEY

LOG = f"""
[[logs]]
origin = "example.com/log"
vkey = "{LOG_KEY.vkey()}"
url = "https://example.com/log/"
"""
PATH = Path("/etc/witnessnet/monitor.toml")


def parse(top: str) -> MonitorConfig:
    return parse_config(f'state = "m.db"\n{top}\n{LOG}', PATH)


def test_defaults_no_server_and_an_hour() -> None:
    config = parse("")
    assert config.listen is None and config.stall_after == DEFAULT_STALL_AFTER == 3600


@pytest.mark.parametrize(
    ("value", "want"),
    [("127.0.0.1:9380", ("127.0.0.1", 9380)), ("[::1]:0", ("::1", 0)), ("h:65535", ("h", 65535))],
)
def test_listen(value: str, want: tuple[str, int]) -> None:
    assert parse(f'listen = "{value}"\nstall_after = 0').listen == want


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('listen = "9380"', "'9380' is not HOST:PORT"),
        ('listen = ":80"', "is not HOST:PORT"),
        ('listen = "h:65536"', "is not HOST:PORT"),
        ('listen = "h:x"', "is not HOST:PORT"),
        ("listen = 9380", "must be a non-empty string"),
        ("stall_after = -1", "stall_after: must be a number"),
        ('stall_after = "1h"', "stall_after: must be a number"),
    ],
)
def test_errors_name_file_key_and_line(line: str, problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(line)
    key = line.split(" ")[0]
    assert str(e.value).startswith(f"{PATH}: {key}: ") and problem in str(e.value)
    assert "(line 2)" in str(e.value)
