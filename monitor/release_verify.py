"""The relying party's binary-transparency check: is this firmware the latest authorised release?

``verify_release`` picks the newest checkpoint of the log that meets the
policy (or the log key alone), downloads every entry, verifies that they hash
to the checkpoint's root, and reads the release claims (firmware manifests and
witnessnet releases) of one component. The digest passes only if an entry
releasing it is signed by enough authorised keys and no authorised release of
the component has a higher version. Its inclusion proof, from the log's tiles,
is verified against the checkpoint and returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from monitor import semver
from monitor.bundles import BundleFetcher
from monitor.checkpoints import Candidate, select_checkpoint
from monitor.claims import Claim, firmware, release
from monitor.errors import MalformedClaimError, MonitorError, NoCheckpointError
from monitor.rules import Signers, signer_problem
from monitor.sources import checkpoint_urls, fetch_notes
from monitor.tree import Prefix, leaf_hashes
from tlog.merkle import RFC6962, verify_inclusion
from tlog.note import Verifier
from tlog.policy import Policy
from tlog.tiles import TILE_WIDTH, decode_entry_bundle
from tlog.tiles_client import TiledLogClient


@dataclass(frozen=True, slots=True)
class Release:
    """An authorised release claim, its entry and the entry's index."""

    index: int
    claim: Claim
    entry: bytes


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer: ok, why, the checkpoint, the matching release and its proof, the latest."""

    ok: bool
    reason: str
    checkpoint: Candidate
    match: Release | None = None
    proof: tuple[bytes, ...] = ()
    latest: Release | None = None


@dataclass
class _Scan:
    component: str
    digest: str
    signers: Signers
    latest: Release | None = None
    match: Release | None = None
    unauthorised: str | None = None

    def examine(self, index: int, entry: bytes) -> None:
        kind = firmware if firmware.sniff(entry) else release if release.sniff(entry) else None
        if kind is None:
            return
        try:
            (claim,) = kind.parse(entry)
        except MalformedClaimError:
            return
        if claim.subject != self.component:
            return
        problem = signer_problem(claim, self.signers)
        if problem is not None:
            if claim.value == self.digest and self.match is None:
                self.unauthorised = f"entry {index} releases it, but {problem}"
            return
        found = Release(index, claim, entry)
        if self.latest is None or semver.compare(claim.version, self.latest.claim.version) > 0:
            self.latest = found
        if claim.value == self.digest and self.match is None:
            self.match = found


async def verify_release(
    http: httpx.AsyncClient,
    *,
    url: str,
    log_key: Verifier,
    origin: str,
    component: str,
    digest: str,
    signers: Signers,
    policy: Policy | None = None,
    checkpoints: tuple[str, ...] = (),
    connections: int = 8,
    timeout: float = 10.0,
) -> Verdict:
    """See the module docstring. Raises MonitorError or TlogError when the log cannot be read
    or its entries do not hash to its signed root."""
    sources = await fetch_notes(http, checkpoint_urls(url, checkpoints), timeout)
    selection = select_checkpoint(sources, log_key, origin, policy)
    if selection.chosen is None:
        reasons = "; ".join(selection.passed_over) or "no source answered"
        raise NoCheckpointError(f"no checkpoint of {origin} qualifies: {reasons}")
    if selection.conflicts:
        raise MonitorError(f"{origin} signed two checkpoints of one size with different roots")
    cp = selection.chosen.checkpoint
    scan = _Scan(component, digest.lower(), signers)
    prefix = Prefix()
    fetcher = BundleFetcher(url, connections=connections, timeout=timeout)
    async with fetcher.bundles(0, cp.size, cp.size) as bundles:
        async for ref, data in bundles:
            entries = decode_entry_bundle(data, ref.width)
            prefix.append_bundle(leaf_hashes(entries))
            for i, entry in enumerate(entries):
                scan.examine(ref.index * TILE_WIDTH + i, entry)
    if prefix.root() != cp.root:
        raise MonitorError(f"the entries of {origin} do not hash to its checkpoint {cp.size}")
    return await _verdict(http, url, log_key, origin, timeout, selection.chosen, scan)


async def _verdict(
    http: httpx.AsyncClient,
    url: str,
    log_key: Verifier,
    origin: str,
    timeout: float,
    chosen: Candidate,
    scan: _Scan,
) -> Verdict:
    match = scan.match
    if match is None:
        reason = (
            scan.unauthorised or f"no entry of {origin} releases {scan.component} {scan.digest}"
        )
        return Verdict(False, reason, chosen, latest=scan.latest)
    cp = chosen.checkpoint
    tiles = TiledLogClient(url, [log_key], http, origin=origin, timeout=timeout)
    proof = await tiles.inclusion_proof(match.index, cp.size)
    verify_inclusion(RFC6962.leaf(match.entry), match.index, cp.size, proof, cp.root)
    latest = scan.latest or match
    if semver.compare(latest.claim.version, match.claim.version) > 0:
        reason = (
            f"{scan.component} {match.claim.version} (entry {match.index}) is superseded by "
            f"{latest.claim.version} (entry {latest.index})"
        )
        return Verdict(False, reason, chosen, match, tuple(proof), latest)
    reason = f"{scan.component} {match.claim.version} is the latest authorised release"
    return Verdict(True, reason, chosen, match, tuple(proof), latest)
