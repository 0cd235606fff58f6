"""The monitor status page: every value escaped, stalls and failures shown, findings
with their details and download links."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from monitor.stall import LogStall
from monitor.status import CursorRow, FindingRow, LogStatus, Snapshot
from monitor.statuspage import MAX_FINDINGS, render_status

NOW = 1_800_000_000.0
EVIL = "<script>alert(1)</script>"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def finding(i: int, text: str = "x") -> FindingRow:
    body = json.dumps({"summary": text, "inclusion_proof": ["AAAA"]}).encode()
    return FindingRow(i, text, "unauthorised-signer", 5, text, text, text, NOW - 60, None, body)


def test_everything_is_escaped_and_shown_as_text() -> None:
    logs = [LogStatus(EVIL, EVIL, 10, NOW - 5, (NOW - 1, "network", EVIL))]
    snapshot = Snapshot({EVIL: CursorRow(EVIL, 4, 10)}, [finding(1, EVIL)], {(EVIL, "x"): 1})
    html = render_status(EVIL, logs, snapshot, {}, now=NOW)
    p = _Tags()
    p.feed(html)
    assert "script" not in p.tags
    assert EVIL in "".join(p.text)
    assert "failing: network" in html  # the failure is newer than the last completed pass


def test_logs_show_cursor_lag_and_stall_and_findings_are_capped() -> None:
    logs = [LogStatus("a", "example.com/a", 1000, NOW - 30), LogStatus("b", "example.com/b")]
    cursors = {"a": CursorRow("a", 600, 900)}
    many = [finding(i) for i in range(MAX_FINDINGS + 20, 0, -1)]
    snapshot = Snapshot(cursors, many, {("a", "unauthorised-signer"): len(many)})
    stalls = {"a": LogStall(900, NOW - 7200, "key")}
    html = render_status("m", logs, snapshot, stalls, now=NOW)
    assert "<td class=num>600</td><td class=num>900</td><td class=num>400</td>" in html
    assert "stalled at 900 since 2h ago" in html and "first pass running" in html
    assert html.count("download=") == MAX_FINDINGS
    assert f"{len(many)} findings. The {MAX_FINDINGS} newest are shown." in html
