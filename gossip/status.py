"""The witness status page as gossip sees it (GET /, served before the witness's own).

Gossip knows what the witness alone does not: every cosignature of the latest
checkpoint that the network shared (the aggregated note of each log's view),
the peers and when an exchange with each last succeeded, and the evidence and
suspicion files held. Only the logs of the requested page are read from the
store and have their notes parsed, so a page costs about the same with 40,000
logs as with 40.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from gossip.node import GossipNode
from tlog.note import parse_note
from witness.decide import LogState
from witness.registry import TrustedLog
from witness.statuspage import (
    EvidenceRow,
    GossipSection,
    PeerRow,
    choose_page,
    log_rows,
    page_logs,
    render_status,
)

# A peer is fresh while its last successful exchange is younger than this many gossip
# intervals per peer (exchanges pick peers at random: with n peers, one comes up about
# every n / 2 intervals), and never less than FRESH_MIN seconds.
FRESH_INTERVALS = 3.0
FRESH_MIN = 30.0


def fresh_for(interval: float, peers: int) -> float:
    """Seconds after which a peer with no successful exchange counts as stale."""
    return max(FRESH_MIN, FRESH_INTERVALS * interval * max(1, peers))


def cosigners(node: GossipNode) -> dict[tuple[str, int], str]:
    """The network's witnesses by the (key name, key ID) of their cosignature lines."""
    out = {}
    for m in node.messenger.network.members:
        v = m.cosigner()
        out[(v.name, v.key_id)] = m.key_name
    return out


def section(node: GossipNode, now: float | None = None) -> GossipSection:
    """The peers and evidence of `node`, for the status page."""
    m = node.messenger
    peers = [
        PeerRow(p.name, p.url, m.last_ok.get(p.name), m.last_error.get(p.name)) for p in m.peers()
    ]
    frozen = node.state.frozen
    evidence = [
        EvidenceRow(
            h.fingerprint, h.kind, h.origin, h.witness, h.source, h.received,
            h.origin in frozen and frozen[h.origin].fingerprint == h.fingerprint,
        )
        for h in node.state.held.values()
    ]  # fmt: skip
    return GossipSection(peers, fresh_for(node.interval, len(peers)), evidence, len(frozen))


def status_route(node: GossipNode) -> Route:
    """GET /: the witness status page with cosigners, peers and evidence."""
    known = cosigners(node)

    def cosigned_by(trusted: TrustedLog, state: LogState) -> tuple[str, ...]:
        view = node.views.get(trusted.origin)
        if view is None or view.note is None or view.size != state.size:
            return ()
        names = (known.get((s.name, s.key_id)) for s in parse_note(view.note).signatures)
        return tuple(sorted({n for n in names if n is not None}))

    async def status(request: Request) -> Response:
        witness = node.witness
        page = choose_page(request.query_params, len(witness.registry))
        logs = page_logs(witness.registry, page)
        await node.views.refresh(t.origin for t in logs)
        rows = log_rows(witness, logs, cosigned_by)
        html = render_status(witness.name, [witness.signer.vkey()], rows, page, section(node))
        return HTMLResponse(html)

    return Route("/", status)
