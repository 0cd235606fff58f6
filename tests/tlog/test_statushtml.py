from hypothesis import given
from hypothesis import strategies as st

from tlog.statushtml import age, badge, when


def test_age_takes_the_largest_whole_unit() -> None:
    assert [age(s) for s in (0, 59.9, 60, 3599, 3600, 86399, 86400 * 3 + 5)] == [
        "0s ago", "59s ago", "1m ago", "59m ago", "1h ago", "23h ago", "3d ago",
    ]  # fmt: skip


def test_when_escapes_and_never_goes_negative() -> None:
    assert when(None, 100.0) == '<span class="none">never</span>'
    assert when(0.0, 90.0) == '<span title="1970-01-01 00:00:00Z">1m ago</span>'
    assert ">0s ago<" in when(200.0, 100.0)  # a clock ahead of ours is "now", not negative
    assert badge("frozen", "<x>") == '<span class="badge frozen">&lt;x&gt;</span>'


@given(st.floats(min_value=0, max_value=1e9))
def test_age_is_always_a_count_and_a_unit(seconds: float) -> None:
    count, unit_ago = age(seconds).split(" ")
    assert count[:-1].isdigit() and count[-1] in "dhms" and unit_ago == "ago"
