"""The stall watch: a log-stalled warn after stall_after seconds without growth, once,
closed only when the verified size grows; and the kind of a failed pass."""

from __future__ import annotations

import httpx
import trio
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import FetchError, NoCheckpointError
from monitor.follower import PassResult
from monitor.stall import Raise, Resolve, StallWatch, stall_key
from monitor.status import ERROR_KINDS, error_kind
from tlog.errors import CheckpointError

ORIGIN = "example.com/log"
STALL_AFTER = 100.0

# A pass: seconds since the previous one, and the size it verified (None: it failed).
passes = st.lists(st.tuples(st.floats(0, 80), st.one_of(st.none(), st.integers(0, 5))), max_size=60)


@given(passes)
def test_a_stall_opens_after_stall_after_and_closes_only_on_growth(steps: list) -> None:
    watch = StallWatch(STALL_AFTER)
    now, size, since, open_key = 0.0, None, 0.0, None
    for dt, observed in steps:
        now += dt
        action = watch.observe("log", ORIGIN, observed, now)
        if size is None:  # the first pass only starts the clock
            assert action is None
            size, since = observed or 0, now
            continue
        if observed is not None and observed > size:
            assert action == (None if open_key is None else Resolve("log", open_key))
            size, since, open_key = observed, now, None
        elif open_key is None and now - since >= STALL_AFTER:
            assert isinstance(action, Raise)
            assert action.alert.cls == "warn" and action.alert.kind == "log-stalled"
            assert action.alert.dedupe_key == stall_key(ORIGIN, size)
            watch.opened("log", action.alert.dedupe_key)
            open_key = action.alert.dedupe_key
        else:
            assert action is None  # no flapping: nothing while open, or before the time


def test_a_stall_not_accepted_by_the_sinks_is_raised_again() -> None:
    watch = StallWatch(STALL_AFTER)
    watch.observe("log", ORIGIN, 7, 0)
    first = watch.observe("log", ORIGIN, 7, 150)
    assert isinstance(first, Raise)
    again = watch.observe("log", ORIGIN, None, 160)
    assert isinstance(again, Raise) and again.alert.dedupe_key == first.alert.dedupe_key


def test_zero_turns_stall_alerts_off() -> None:
    watch = StallWatch(0)
    watch.observe("log", ORIGIN, 7, 0)
    assert watch.observe("log", ORIGIN, 7, 10**9) is None


def test_error_kinds() -> None:
    ok = PassResult("log", 0, 10, 10, 0)
    lied = PassResult("log", 0, 0, 10, 1, "integrity: two roots")
    failed = PassResult("log", 0, 0, 0, 0, "x")
    cases = [
        (ok, None, None),
        (lied, None, "integrity"),
        (failed, trio.TooSlowError(), "timeout"),
        (failed, httpx.ReadTimeout("slow"), "timeout"),
        (failed, httpx.ConnectError("refused"), "network"),
        (failed, ConnectionResetError(), "network"),
        (failed, NoCheckpointError("quorum"), "no_checkpoint"),
        (failed, FetchError("bundle"), "fetch"),
        (failed, CheckpointError("bad"), "invalid"),
    ]
    for result, error, kind in cases:
        assert error_kind(result, error) == kind
        assert kind is None or kind in ERROR_KINDS
