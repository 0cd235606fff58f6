"""The witness status page: escaping, pagination over many logs, peers and evidence."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from tests.witness.helpers import ToyLog
from witness.decide import LogState
from witness.registry import TrustedLog
from witness.statuspage import (
    MAX_ROWS,
    PAGE_SIZE,
    EvidenceRow,
    GossipSection,
    LogRow,
    Page,
    PeerRow,
    choose_page,
    page_logs,
    render_status,
)

LOG = ToyLog("example.com/log", 4)
NOW = 1_800_000_000.0


class _Text(HTMLParser):
    """The page's text and its tags, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Text:
    p = _Text()
    p.feed(html)
    return p


def trusted(origin: str) -> TrustedLog:
    return TrustedLog(origin, (LOG.vkey,), "config")


def test_everything_from_outside_is_escaped() -> None:
    evil = "<script>alert(1)</script>"
    row = LogRow(
        trusted(f"evil.example/{evil}"),
        LogState(f"evil.example/{evil}", 4, LOG.root(4), LOG.checkpoint(4), NOW - 90),
        cosigners=(evil,),
    )
    gossip = GossipSection(
        peers=[PeerRow(evil, f"http://x/{evil}", None, (NOW - 5, evil))],
        fresh_for=30,
        evidence=[EvidenceRow("ab" * 32, "same-size-different-roots", evil, evil, evil, NOW, True)],
        frozen=1,
    )
    html = render_status(evil, [evil], [row], Page(1, 1, 1), gossip, now=NOW)
    page = parse(html)
    assert "script" not in page.tags
    assert evil in "".join(page.text)  # shown, as text


def test_a_page_of_40000_logs_renders_one_page_of_rows() -> None:
    logs = [trusted(f"log{i:05}.example") for i in range(40_000)]
    page = choose_page({"page": "7"}, len(logs))
    chosen = page_logs(logs, page)
    assert [t.origin for t in chosen] == [f"log{i:05}.example" for i in range(600, 700)]
    rows = [LogRow(t, LogState(t.origin)) for t in chosen]
    html = render_status("w", ["vkey"], rows, page, now=NOW)
    assert html.count("<tr><td>") == PAGE_SIZE
    assert "40000" in html and f"page 7 of {40_000 // PAGE_SIZE}" in html
    links = parse(html).links
    assert "?page=6" in links and "?page=8" in links


@given(st.integers(min_value=0, max_value=10**6), st.text(max_size=12))
def test_choose_page_is_always_a_page_that_exists(total: int, raw: str) -> None:
    page = choose_page({"page": raw}, total)
    assert 1 <= page.number <= page.count
    assert page.count == max(1, -(-total // PAGE_SIZE))
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= page.count:
        assert page.number == int(raw)


def test_peers_show_freshness_stale_first_and_evidence_has_download_links() -> None:
    fp = "cd" * 32
    gossip = GossipSection(
        peers=[
            PeerRow("alpha", "http://a", NOW - 3),
            PeerRow("beta", "http://b", NOW - 4000, (NOW - 2, "beta answered 503")),
            PeerRow("gamma", "http://c", None),
        ],
        fresh_for=60,
        evidence=[
            EvidenceRow(fp, "inconsistent-sizes", "example.com/log", None, "w2", NOW - 10, True),
            EvidenceRow("ef" * 32, "suspicion", "other.example", "w3", "w3", NOW - 5, False),
        ],
        frozen=1,
    )
    row = LogRow(
        trusted("example.com/log"),
        LogState("example.com/log", 4, LOG.root(4), LOG.checkpoint(4), NOW - 7200),
        cosigners=("w1", "w2"),
        frozen=True,
    )
    html = render_status("w1", ["vkey"], [row], Page(1, 1, 1), gossip, now=NOW)
    text = " ".join(" ".join(parse(html).text).split())
    assert "1 of 3 peers fresh" in text
    order = [text.index(n) for n in ("beta", "gamma", "alpha")]
    assert order == sorted(order)  # stale and never-reached peers come first
    assert "beta answered 503" in text and "never reached" in text
    assert f"/evidence/{fp}" in parse(html).links
    assert "1 proof of misbehaviour, 1 suspicion, 1 log frozen" in text
    assert "frozen" in text and "2: w1, w2" in text and "2h ago" in text


def test_only_max_rows_peers_and_evidence_are_listed() -> None:
    many = MAX_ROWS + 50
    gossip = GossipSection(
        peers=[PeerRow(f"p{i}", "http://p", NOW) for i in range(many)],
        fresh_for=60,
        evidence=[
            EvidenceRow(f"{i:064x}", "suspicion", "o", None, "s", NOW, False) for i in range(many)
        ],
        frozen=0,
    )
    html = render_status("w", [], [], Page(1, 1, 0), gossip, now=NOW)
    assert len(re.findall(r'href="/evidence/[0-9a-f]{64}"', html)) == MAX_ROWS
    assert f"{many} of {many} peers fresh" in html and f"the {MAX_ROWS} first shown" in html
    assert html.count("<td><code class=url>http://p</code>") == MAX_ROWS
