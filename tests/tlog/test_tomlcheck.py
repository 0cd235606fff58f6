"""tlog.tomlcheck: errors in the caller's class that name file, key and line."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tlog.tomlcheck import TomlChecker, unknown_key

TEXT = """name = "w"
log_lists = ["a", 3]

[[logs]]
origin = "a"

[[logs]]
origin = "b"
vkeys = []

[gossip]
enabled = 3
"""


class Wrong(Exception):
    pass


def checker(**kw: Any) -> TomlChecker:
    return TomlChecker("c.toml", TEXT, Wrong, **kw)


@pytest.mark.parametrize(
    ("key", "line"),
    [
        ("name", 1),
        ("log_lists[1]", 2),  # not an array of tables: the key's own line
        ("logs[0]", 4),
        ("logs[1].origin", 8),
        ("logs[1].vkeys[0]", 9),
        ("logs[0].vkeys", 4),  # missing from the table: its header
        ("logs[2].origin", None),
        ("gossip.enabled", 12),
        ("gossip.network_file", 11),
        ("listen", None),
    ],
)
def test_line(key: str, line: int | None) -> None:
    err = checker(arrays=("logs",), tables=("gossip",)).fail(key, "bad")
    assert isinstance(err, Wrong)
    assert str(err) == f"c.toml: {key}: bad" + (f" (line {line})" if line else "")


def test_arrays_none_treats_every_index_as_an_array_of_tables() -> None:
    assert str(checker().fail("log_lists[1]", "bad")) == "c.toml: log_lists[1]: bad"


def test_table_unknown_key_hints_the_nearest() -> None:
    with pytest.raises(Wrong) as e:
        checker(tables=("gossip",)).table({"enabeld": 3}, "gossip", {"enabled", "interval"})
    assert str(e.value) == (
        "c.toml: gossip.enabeld: unknown key (did you mean 'enabled'?); "
        "allowed: enabled, interval (line 11)"
    )


def test_strings_and_string() -> None:
    c = checker()
    with pytest.raises(Wrong, match=r"^c.toml: log_lists\[1\]: must be a non-empty string"):
        c.strings(["a", 3], "log_lists")
    with pytest.raises(Wrong, match=r"^c.toml: listen: missing \(required\)$"):
        c.string({}, "listen", "listen")
    assert c.optional_string({}, "listen", "listen") is None
    assert c.string({"listen": "x"}, "listen", "listen") == "x"


@given(st.text(max_size=200), st.text(max_size=40))
def test_fail_never_raises_and_names_file_and_key(text: str, key: str) -> None:
    err = TomlChecker("f.toml", text, Wrong, arrays=("logs",), tables=("t",)).fail(key, "p")
    assert str(err).startswith(f"f.toml: {key}: p")


@given(st.text(alphabet="abcdefgh_", min_size=1, max_size=12))
def test_unknown_key_lists_allowed(key: str) -> None:
    problem = unknown_key(key, {"enabled", "interval"})
    assert problem.startswith("unknown key")
    assert problem.endswith("; allowed: enabled, interval")
