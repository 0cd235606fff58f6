"""The witness's HTML status page: server-rendered tables, a little CSS, no scripts.

Sections: the logs (size, root, age of the last advance, cosigners of the latest
checkpoint, frozen or not), and, when gossip runs, the peers with the freshness of
the last successful exchange and the alerts and evidence held, each with a
download link. Every value from the outside (origins, names, URLs, errors) is
HTML-escaped.

A witness may follow tens of thousands of logs, so the log table is paginated
(`?page=N`, PAGE_SIZE rows, sorted by origin) and the peer and evidence tables
show at most MAX_ROWS rows, problems first, with the total counts beside them.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from tlog.statushtml import badge, when
from witness.decide import LogState
from witness.registry import TrustedLog
from witness.service import Witness

PAGE_SIZE = 100
MAX_ROWS = 100

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 80em;
  padding: 0 1em; color: #1d2327; background: #fff; }
h1 { font-size: 1.5em; margin: 0; }
h2 { font-size: 1.15em; margin: 1.8em 0 .4em; }
p.keys { color: #555; margin: .3em 0 1em; word-break: break-all; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #e3e5e8;
  vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 12px; word-break: break-all; }
code.url { word-break: normal; white-space: nowrap; }
.none { color: #8a9099; }
.badge { display: inline-block; padding: 0 .5em; border-radius: .8em; font-size: 12px;
  font-weight: 600; white-space: nowrap; }
.ok { background: #dff5e1; color: #17612a; }
.bad { background: #fde2e1; color: #9b1c1c; }
.warn { background: #fff1cc; color: #7a5300; }
.summary { display: flex; gap: 1em; flex-wrap: wrap; margin: .8em 0; }
.summary div { border: 1px solid #e3e5e8; border-radius: .4em; padding: .5em .9em; }
.summary b { display: block; font-size: 1.3em; }
nav { margin: .5em 0; }
"""


@dataclass(frozen=True, slots=True)
class LogRow:
    """One log on the page: its trust, its state, who cosigned its latest checkpoint."""

    trusted: TrustedLog
    state: LogState
    cosigners: tuple[str, ...] = ()
    frozen: bool = False


@dataclass(frozen=True, slots=True)
class PeerRow:
    """A gossip peer: when the last exchange with it succeeded, and the last failure."""

    name: str
    url: str
    last_ok: float | None
    last_error: tuple[float, str] | None = None


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    """An evidence or suspicion file held (GET /evidence/<fingerprint> serves it)."""

    fingerprint: str
    kind: str
    origin: str
    witness: str | None
    source: str
    received: float
    froze_log: bool


@dataclass(frozen=True, slots=True)
class GossipSection:
    """What gossip adds to the page. A peer is fresh when its last successful exchange is
    at most `fresh_for` seconds old."""

    peers: Sequence[PeerRow]
    fresh_for: float
    evidence: Sequence[EvidenceRow]
    frozen: int


@dataclass(frozen=True, slots=True)
class Page:
    """Which slice of the sorted logs to show: page `number` (1-based) of `count`."""

    number: int
    count: int
    total: int


def choose_page(query: Mapping[str, str], total: int) -> Page:
    """The page a `?page=N` query asks for, clamped to the pages there are."""
    count = max(1, -(-total // PAGE_SIZE))
    raw = query.get("page", "1")
    number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else 1
    return Page(min(max(1, number), count), count, total)


def page_logs(logs: Iterable[TrustedLog], page: Page) -> list[TrustedLog]:
    """The logs of `page`, in origin order."""
    ordered = sorted(logs, key=lambda t: t.origin)
    start = (page.number - 1) * PAGE_SIZE
    return ordered[start : start + PAGE_SIZE]


def own_cosigners(witness: Witness) -> Callable[[TrustedLog, LogState], tuple[str, ...]]:
    """Without gossip, the only cosigner a witness knows of is itself (never on a frozen log)."""

    def cosigners(trusted: TrustedLog, state: LogState) -> tuple[str, ...]:
        if state.checkpoint is None or trusted.origin in witness.frozen:
            return ()
        return (witness.name,)

    return cosigners


def log_rows(
    witness: Witness,
    logs: Iterable[TrustedLog],
    cosigners: Callable[[TrustedLog, LogState], tuple[str, ...]],
) -> list[LogRow]:
    """The rows of `logs`, with their stored state and cosigners."""
    rows = []
    for t in logs:
        state = witness.store.latest(t.origin) or LogState(t.origin)
        rows.append(LogRow(t, state, cosigners(t, state), t.origin in witness.frozen))
    return rows


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _log_row(row: LogRow, now: float) -> str:
    t, state = row.trusted, row.state
    root = (
        f"<code>{base64.b64encode(state.root).decode()}</code>"
        if state.root is not None
        else '<span class="none">none yet</span>'
    )
    origin = (
        f'<a href="/{t.origin_hash}/checkpoint">{escape(t.origin)}</a>'
        if state.checkpoint is not None
        else escape(t.origin)
    )
    status = badge("bad", "frozen") if row.frozen else badge("ok", "cosigning")
    cosigners = (
        escape(", ".join(row.cosigners)) if row.cosigners else '<span class="none">none</span>'
    )
    return (
        f"<tr><td>{origin}</td><td>{status}</td><td class=num>{state.size}</td><td>{root}</td>"
        f"<td>{when(state.updated, now)}</td><td>{len(row.cosigners)}: {cosigners}</td>"
        f"<td>{escape(t.source)}</td></tr>"
    )


def _nav(page: Page) -> str:
    if page.count == 1:
        return ""
    links = []
    if page.number > 1:
        links.append(f'<a href="?page={page.number - 1}">&larr; previous</a>')
    links.append(f"page {page.number} of {page.count}")
    if page.number < page.count:
        links.append(f'<a href="?page={page.number + 1}">next &rarr;</a>')
    return f"<nav>{' · '.join(links)}</nav>"


def _peer_rows(g: GossipSection, now: float) -> tuple[str, int]:
    def fresh(p: PeerRow) -> bool:
        return p.last_ok is not None and now - p.last_ok <= g.fresh_for

    # Stale peers first: they are what an operator looks for.
    peers = sorted(g.peers, key=lambda p: (fresh(p), p.name))
    rows = []
    for p in peers[:MAX_ROWS]:
        state = (
            badge("ok", "fresh")
            if fresh(p)
            else badge("warn", "stale" if p.last_ok is not None else "never reached")
        )
        error = (
            f"{when(p.last_error[0], now)}: <code>{escape(p.last_error[1][:300])}</code>"
            if p.last_error is not None
            else '<span class="none">none</span>'
        )
        rows.append(
            f"<tr><td>{escape(p.name)}</td><td><code class=url>{escape(p.url)}</code></td>"
            f"<td>{state}</td><td>{when(p.last_ok, now)}</td><td>{error}</td></tr>"
        )
    return "".join(rows), sum(1 for p in g.peers if fresh(p))


def _evidence_rows(g: GossipSection, now: float) -> str:
    held = sorted(g.evidence, key=lambda e: (e.kind == "suspicion", -e.received))
    rows = []
    for e in held[:MAX_ROWS]:
        alert = badge("warn", "warn") if e.kind == "suspicion" else badge("bad", "page")
        froze = " " + badge("bad", "froze the log") if e.froze_log else ""
        who = escape(e.witness) if e.witness else '<span class="none">-</span>'
        link = (
            f'<a href="/evidence/{escape(e.fingerprint)}" '
            f'download="evidence-{escape(e.fingerprint[:16])}.txt">download</a>'
        )
        rows.append(
            f"<tr><td>{alert}</td><td>{escape(e.kind)}{froze}</td><td>{escape(e.origin)}</td>"
            f"<td>{who}</td><td>{escape(e.source)}</td><td>{when(e.received, now)}</td>"
            f"<td><code>{escape(e.fingerprint[:16])}…</code> {link}</td></tr>"
        )
    return "".join(rows)


def _gossip_html(g: GossipSection, now: float) -> str:
    peers, fresh = _peer_rows(g, now)
    evidence = _evidence_rows(g, now)
    proofs = sum(1 for e in g.evidence if e.kind != "suspicion")
    shown = f" (the {MAX_ROWS} first shown)" if len(g.evidence) > MAX_ROWS else ""
    capped = f"; the {MAX_ROWS} first shown, stale first" if len(g.peers) > MAX_ROWS else ""
    table = (
        "<table><thead><tr><th>alert</th><th>kind</th><th>log</th><th>witness</th><th>from</th>"
        f"<th>received</th><th>evidence</th></tr></thead><tbody>{evidence}</tbody></table>"
        if evidence
        else '<p class="none">No alerts: no evidence or suspicion held.</p>'
    )
    return f"""
<h2 id="alerts">Alerts and evidence</h2>
<p>{_count(proofs, "proof")} of misbehaviour, {_count(len(g.evidence) - proofs, "suspicion")},
{_count(g.frozen, "log")} frozen{shown}. Each file verifies offline:
<code>witnessnet evidence verify FILE</code>. All as JSON: <a href="/evidence">/evidence</a>.</p>
{table}
<h2 id="peers">Peers</h2>
<p>{fresh} of {len(g.peers)} peers fresh (a successful exchange within the last
{int(g.fresh_for)}s){capped}.</p>
<table><thead><tr><th>peer</th><th>URL</th><th>state</th><th>last exchange</th>
<th>last failure</th></tr></thead><tbody>{peers}</tbody></table>
"""


def render_status(
    name: str,
    vkeys: Sequence[str],
    rows: Sequence[LogRow],
    page: Page,
    gossip: GossipSection | None = None,
    now: float | None = None,
) -> str:
    """The status page of witness `name`: `rows` are the logs of `page`."""
    now = time.time() if now is None else now
    keys = "<br>".join(f"<code>{escape(v)}</code>" for v in vkeys)
    frozen_count = "" if gossip is None else f"<div><b>{gossip.frozen}</b>logs frozen</div>"
    evidence_count = (
        ""
        if gossip is None
        else f"<div><b>{len(gossip.evidence)}</b>evidence files</div>"
        f"<div><b>{len(gossip.peers)}</b>peers</div>"
    )
    body = "".join(_log_row(r, now) for r in rows)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>witness {escape(name)}</title>
<style>{_CSS}</style></head><body>
<h1>Witness {escape(name)}</h1>
<p class="keys">{keys}</p>
<div class="summary"><div><b>{page.total}</b>logs</div>{frozen_count}{evidence_count}</div>
<p>Machine-readable: <a href="/logs">/logs</a>, <a href="/metrics">/metrics</a>.</p>
{"" if gossip is None else _gossip_html(gossip, now)}
<h2 id="logs">Logs</h2>
{_nav(page)}
<table><thead><tr><th>origin</th><th>state</th><th>size</th><th>root</th>
<th>last advance</th><th>cosigners of the latest checkpoint</th><th>source</th></tr></thead>
<tbody>
{body}
</tbody></table>
{_nav(page)}
</body></html>
"""
