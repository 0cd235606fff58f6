"""Small pure helpers shared by the daemons' server-rendered status pages.

The witness page (witness.statuspage) and the monitor page (monitor.statuspage)
show times and states the same way; each page keeps its own layout and CSS.
Every helper returns HTML with its text escaped.
"""

from __future__ import annotations

import time
from html import escape


def age(seconds: float) -> str:
    """A duration as the largest whole unit: `3d ago`, `5h ago`, `2m ago`, `7s ago`."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def when(t: float | None, now: float) -> str:
    """How long before `now` the unix time `t` was, with the UTC time as a tooltip."""
    if t is None:
        return '<span class="none">never</span>'
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(t))
    return f'<span title="{stamp}">{escape(age(max(0.0, now - t)))}</span>'


def badge(cls: str, text: str) -> str:
    """A coloured label (`cls` picks the page's CSS class)."""
    return f'<span class="badge {cls}">{escape(text)}</span>'
