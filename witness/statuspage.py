"""The witness's HTML status page: one server-rendered table, no scripts."""

from __future__ import annotations

import base64
import time
from html import escape

from witness.decide import LogState
from witness.registry import TrustedLog

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.4em; margin-bottom: 0; }
p.keys { color: #555; margin-top: .3em; word-break: break-all; }
table { border-collapse: collapse; width: 100%; margin-top: 1.5em; }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #ddd; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 12px; word-break: break-all; }
.none { color: #999; }
"""


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def render_status(
    name: str, vkeys: list[str], logs: list[tuple[TrustedLog, LogState]], now: float | None = None
) -> str:
    """The status page for a witness `name` with its vkeys and (trust, state) per log."""
    now = time.time() if now is None else now
    rows = []
    for trusted, state in logs:
        root = (
            f"<code>{base64.b64encode(state.root).decode()}</code>"
            if state.root is not None
            else '<span class="none">none yet</span>'
        )
        updated = (
            '<span class="none">never</span>'
            if state.updated is None
            else escape(
                time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(state.updated))
                + f" ({_age(max(0.0, now - state.updated))})"
            )
        )
        checkpoint = (
            f'<a href="/{trusted.origin_hash}/checkpoint">{escape(trusted.origin)}</a>'
            if state.checkpoint is not None
            else escape(trusted.origin)
        )
        rows.append(
            f"<tr><td>{checkpoint}</td><td class=num>{state.size}</td><td>{root}</td>"
            f"<td>{updated}</td><td class=num>{trusted.qpd or ''}</td>"
            f"<td>{escape(trusted.source)}</td></tr>"
        )
    keys = "<br>".join(f"<code>{escape(v)}</code>" for v in vkeys)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>witness {escape(name)}</title>
<style>{_CSS}</style></head><body>
<h1>Witness {escape(name)}</h1>
<p class="keys">{keys}</p>
<p>{len(logs)} logs. Machine-readable: <a href="/logs">/logs</a>, <a href="/metrics">/metrics</a>.
</p>
<table><thead><tr><th>origin</th><th>size</th><th>root</th><th>last advance</th><th>qpd</th>
<th>source</th></tr></thead>
<tbody>
{"".join(rows)}
</tbody></table></body></html>
"""
