"""witness-network logs/v0 lists: the real lists parse, anything unclear is an error."""

from __future__ import annotations

import pytest

from tests.vectors import load
from tests.witness.helpers import ToyLog
from witness.errors import ConfigError
from witness.loglist import LogListEntry, parse_log_list

LISTS = load("witness-network-log-lists.txt")
VKEY = ToyLog("example.com/log", 1).vkey


@pytest.mark.parametrize(
    ("section", "count"),
    [
        ("testing/log-list.1", 9),
        ("staging/log-list-10qps-4klogs.1", 1),
        ("staging/log-list-100qps-40klogs.1", 11),
    ],
)
def test_real_lists(section: str, count: int) -> None:
    entries = parse_log_list(LISTS.text(section), section)
    assert len(entries) == count
    for e in entries:
        assert e.origin == e.vkey.split("+")[0]
        assert e.qpd >= 1 and e.contact


def test_testing_list_first_entry() -> None:
    first = parse_log_list(LISTS.text("testing/log-list.1"), "t")[0]
    assert first == LogListEntry(
        origin="arche2025h1.staging.ct.transparency.dev",
        vkey="arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f",
        qpd=86400,
        contact="google-ct-logs@googlegroups.com",
        line=11,
    )


def test_format_example_placeholder_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"^example: line 10: vkey for tlog.foo.org: key ID"):
        parse_log_list(LISTS.text("format-example"), "example")


def test_origin_bastion_and_comments() -> None:
    text = f"""# comment
  logs/v0

vkey {VKEY}
origin none
bastion https://bastion.example/
qpd 24
contact a b c   # not a comment: free text

# second
vkey {VKEY}
origin example.com/other log
qpd 1
contact x
"""
    a, b = parse_log_list(text, "l")
    assert (a.origin, a.qpd, a.contact, a.line) == (
        "example.com/log",
        24,
        "a b c   # not a comment: free text",
        4,
    )
    assert (b.origin, b.qpd, b.line) == ("example.com/other log", 1, 11)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "end of file: want the header"),
        ("logs/v1\n", "line 1: want the header"),
        (f"logs/v0\nvkey {VKEY}\nqpd 1\n", "end of file: want 'contact <value>'"),
        (f"logs/v0\nvkey {VKEY}\ncontact x\n", "line 3: want 'qpd <value>'"),
        (f"logs/v0\nvkey {VKEY}\nqpd 0\ncontact x\n", "line 3: qpd must be"),
        (f"logs/v0\nvkey {VKEY}\nqpd 2147483648\ncontact x\n", "line 3: qpd must be"),
        (f"logs/v0\nvkey {VKEY}\nqpd ²\ncontact x\n", "line 3: qpd must be"),
        (f"logs/v0\nvkey {VKEY}\nqpd 1\ncontact x\nextra y\n", "line 5: want 'vkey <value>'"),
        (f"logs/v0\nqpd 1\nvkey {VKEY}\ncontact x\n", "line 2: want 'vkey <value>'"),
        ("logs/v0\nvkey nope\nqpd 1\ncontact x\n", "line 2: vkey 'nope'"),
        (
            f"logs/v0\nvkey {VKEY}\nqpd 1\ncontact x\nvkey {VKEY}\nqpd 2\ncontact y\n",
            "line 5: origin 'example.com/log' is already listed at line 2",
        ),
    ],
)
def test_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_log_list(text, "list.txt")
    assert str(e.value).startswith("list.txt: ")
    assert message in str(e.value)
