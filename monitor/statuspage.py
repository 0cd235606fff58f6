"""The monitor's HTML status page: server-rendered tables, a little CSS, no scripts.

One row per followed log (cursor, verified size, entries behind the newest
checkpoint, last completed pass, last failure, stall), then the newest findings,
each with its details unfolded on demand (<details>) and its JSON document,
inclusion proof included, as a download. Every value is HTML-escaped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from html import escape

from monitor.rules import SEVERITY
from monitor.stall import LogStall
from monitor.status import CursorRow, FindingRow, LogStatus, Snapshot
from tlog.statushtml import age, badge, when

MAX_FINDINGS = 100
MAX_DETAIL_CHARS = 6000

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 80em;
  padding: 0 1em; color: #1d2327; background: #fff; }
h1 { font-size: 1.5em; margin: 0; }
h2 { font-size: 1.15em; margin: 1.8em 0 .4em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #e3e5e8;
  vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-size: 12px; word-break: break-all; }
code.rule { word-break: normal; white-space: nowrap; }
td.name { white-space: nowrap; }
p.sub { color: #555; margin: .3em 0 1em; word-break: break-all; }
pre { white-space: pre-wrap; background: #f7f7f8; padding: .6em; border-radius: .3em;
  max-height: 24em; overflow: auto; }
.none { color: #8a9099; }
.badge { display: inline-block; padding: 0 .5em; border-radius: .8em; font-size: 12px;
  font-weight: 600; white-space: nowrap; }
.ok { background: #dff5e1; color: #17612a; }
.bad { background: #fde2e1; color: #9b1c1c; }
.warn { background: #fff1cc; color: #7a5300; }
.summary { display: flex; gap: 1em; flex-wrap: wrap; margin: .8em 0; }
.summary div { border: 1px solid #e3e5e8; border-radius: .4em; padding: .5em .9em; }
.summary b { display: block; font-size: 1.3em; }
summary { cursor: pointer; }
"""


def _log_row(log: LogStatus, cursor: CursorRow | None, stall: LogStall | None, now: float) -> str:
    checked = 0 if cursor is None else cursor.next
    verified = 0 if cursor is None else cursor.size
    behind = "" if log.newest_size is None else str(max(0, log.newest_size - checked))
    failing = log.last_error is not None and (
        log.last_pass is None or log.last_error[0] > log.last_pass
    )
    if stall is not None and stall.open_key is not None:
        state = badge("warn", f"stalled at {stall.size} since {age(now - stall.since)}")
    elif failing and log.last_error is not None:
        state = badge("bad", f"failing: {log.last_error[1]}")
    elif log.last_pass is None:
        state = badge("warn", "first pass running")
    else:
        state = badge("ok", "following")
    error = (
        f"{when(log.last_error[0], now)} <code>{escape(log.last_error[2][:300])}</code>"
        if log.last_error is not None
        else '<span class="none">none</span>'
    )
    name = escape(log.name)
    origin = "" if log.origin == log.name else f"<br><code>{escape(log.origin)}</code>"
    return (
        f"<tr><td>{name}{origin}</td><td>{state}</td><td class=num>{checked}</td>"
        f"<td class=num>{verified}</td><td class=num>{behind}</td>"
        f"<td>{when(log.last_pass, now)}</td><td>{error}</td></tr>"
    )


def _details(body: bytes) -> str:
    try:
        doc = json.loads(body)
        text = json.dumps(doc, indent=1, sort_keys=True)
    except ValueError:
        text = body.decode("utf-8", "replace")
    if len(text) > MAX_DETAIL_CHARS:
        text = text[:MAX_DETAIL_CHARS] + "\n… (download the JSON for the rest)"
    return escape(text)


def _finding_row(f: FindingRow, now: float) -> str:
    cls = SEVERITY.get(f.rule, "warn")
    index = "" if f.index is None else str(f.index)
    delivered = badge("ok", "delivered") if f.delivered else badge("warn", "pending")
    link = (
        f'<a href="/findings/{f.id}.json" download="finding-{f.id}.json">JSON with '
        "inclusion proof</a>"
    )
    return (
        f"<tr><td>{badge('bad' if cls == 'page' else 'warn', cls)}</td>"
        f"<td><code class=rule>{escape(f.rule)}</code></td><td class=name>{escape(f.log)}</td>"
        f"<td class=num>{index}</td><td>{escape(f.subject)}"
        f"<details><summary>{escape(f.summary)}</summary><pre>{_details(f.body)}</pre>"
        f"</details></td><td>{when(f.created, now)}<br>{delivered}</td><td>{link}</td></tr>"
    )


def render_status(
    name: str,
    logs: Sequence[LogStatus],
    snapshot: Snapshot,
    stalls: dict[str, LogStall],
    now: float | None = None,
) -> str:
    """The status page of the monitor `name` (its configuration file)."""
    now = time.time() if now is None else now
    rows = "".join(
        _log_row(log, snapshot.cursors.get(log.name), stalls.get(log.name), now) for log in logs
    )
    findings = "".join(_finding_row(f, now) for f in snapshot.findings[:MAX_FINDINGS])
    stalled = sum(1 for s in stalls.values() if s.open_key is not None)
    shown = f" The {MAX_FINDINGS} newest are shown." if snapshot.total > MAX_FINDINGS else ""
    table = (
        "<table><thead><tr><th>alert</th><th>rule</th><th>log</th><th>entry</th>"
        "<th>subject and details</th><th>found</th><th>download</th></tr></thead>"
        f"<tbody>{findings}</tbody></table>"
        if findings
        else '<p class="none">No findings.</p>'
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>witnessnet monitor</title>
<style>{_CSS}</style></head><body>
<h1>Monitor</h1>
<p class="sub">{escape(name)}</p>
<div class="summary"><div><b>{len(logs)}</b>logs followed</div>
<div><b>{snapshot.total}</b>findings</div><div><b>{stalled}</b>logs stalled</div></div>
<p>Machine-readable: <a href="/findings.json">/findings.json</a>,
<a href="/metrics">/metrics</a>.</p>
<h2 id="findings">Findings</h2>
<p>{snapshot.total} finding{"" if snapshot.total == 1 else "s"}.{shown} Each JSON document
carries the entry, the cosigned checkpoint and an inclusion proof: anyone with the log's key
can check it offline.</p>
{table}
<h2 id="logs">Logs</h2>
<table><thead><tr><th>log</th><th>state</th><th>checked (cursor)</th><th>verified size</th>
<th>behind</th><th>last completed pass</th><th>last failure</th></tr></thead>
<tbody>{rows}</tbody></table>
</body></html>
"""
