"""Progress: a bar with rate and ETA on a terminal, log lines otherwise."""

from __future__ import annotations

import io
import logging

import pytest

from monitor.progress import LogProgress, TerminalProgress


def test_terminal_bar() -> None:
    out = io.StringIO()
    bar = TerminalProgress(out, interval=0)
    bar.update("example.com/log", 250, 1000)
    bar.finish("example.com/log", 1000, 1000)
    first, last = out.getvalue().split("\r\x1b[K")[1:]
    assert "[" in first and " 25.0% 250/1,000" in first and "ETA" in first and "/s" in first
    assert "100.0% 1,000/1,000" in last and last.endswith("\n")


def test_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "monitor")
    p = LogProgress(interval=0)
    p.update("log", 10, 100)
    p.finish("log", 100, 100)
    progress, done = caplog.records
    assert (progress.msg, progress.done, progress.total) == ("progress", 10, 100)  # type: ignore[attr-defined]
    assert (done.msg, done.eta_s) == ("caught up", 0.0)  # type: ignore[attr-defined]
