"""The demo's steps against the running network: publish releases and show them cosigned,
then stage the two attacks and wait until the network has caught each one.

Each attack fills in its Detection as parties catch it, so that a timeout still leaves
a truthful partial summary. Waits poll the daemons' own HTTP endpoints (witness
`/evidence`, `/metrics`, `/<hex>/checkpoint`) and the demo's webhook receiver.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import trio

from gossip.errors import EvidenceError
from gossip.evidence import verify_evidence
from monitor.claims.release import release_text
from tlog.checkpoint import Checkpoint
from tlog.cosignature import parse_cosigner_vkey
from tlog.errors import TlogError
from tlog.keys import Ed25519Signer, parse_vkey
from tlog.merkle import RFC6962, verify_inclusion
from tlog.note import sign_note
from tlog.policy import verify_cosigned_checkpoint
from tlog.tiles_client import TiledLogClient
from witnessnet.demo.network import COMPONENT, ORIGIN, QUORUM, Network, WitnessNode
from witnessnet.demo.procs import Children
from witnessnet.demo.receiver import Received, Receiver
from witnessnet.demo.summary import Detection

MONITOR = "monitor"
MONITOR_SOURCE = "witnessnet-monitor"  # the alert source `witnessnet monitor` reports as
POLL = 0.1
FIRST_RELEASES = [f"1.0.{i}" for i in range(8)]
UNKNOWN_KEY_VERSION = "2.0.0"
AFTER_FORK = ["1.1.0", "1.1.1", "1.1.2"]

T = TypeVar("T")


class DemoError(Exception):
    """A step of the demo that did not verify."""


def release_entry(version: str, signer: Ed25519Signer) -> bytes:
    """A signed witnessnet release claim (monitor/claims/release.py) for a made-up artifact."""
    artifact = f"witnessnet-{version}.tar.gz built by {signer.name}".encode()
    commit = hashlib.sha1(artifact).hexdigest()
    text = release_text(COMPONENT, version, commit, hashlib.sha256(artifact).hexdigest())
    return sign_note(text, [signer]).to_bytes()


def unexpected_pages(alerts: Sequence[Received], witnesses: Sequence[str]) -> list[str]:
    """The pages among `alerts` that the staged attacks do not explain, one line each:
    anything but the witnesses' split-view pages and the monitor's unauthorised-signer
    and integrity pages (a monitor that saw the fork proves it as an integrity finding)."""
    expected = {(w, "split-view") for w in witnesses}
    expected |= {(MONITOR_SOURCE, "unauthorised-signer"), (MONITOR_SOURCE, "integrity")}
    return [
        f"{r.alert.get('source')}: {r.alert.get('kind')}: {r.alert.get('summary')}"
        for r in alerts
        if r.alert.get("class") == "page"
        and (r.alert.get("source"), r.alert.get("kind")) not in expected
    ]


@dataclass(frozen=True)
class Cosigned:
    """A checkpoint that met the policy's quorum, and where it was read."""

    checkpoint: Checkpoint
    cosigners: set[str]
    source: str


class Steps:
    """The demo's steps; `waiting_for` names what a wait in progress is waiting for."""

    def __init__(
        self,
        net: Network,
        http: httpx.AsyncClient,
        receiver: Receiver,
        children: Children,
        say: Callable[[str], None],
    ) -> None:
        self.net = net
        self.http = http
        self.receiver = receiver
        self.children = children
        self.say = say
        self.waiting_for = ""
        self.forked_at = 0.0
        self.evidence_dir = net.directory / "evidence"
        self.evidence_dir.mkdir(exist_ok=True)

    async def until(self, what: str, check: Callable[[], Awaitable[T | None]]) -> T:
        """Poll `check` until it returns something; fail at once if a daemon died."""
        self.waiting_for = what
        while True:
            self.children.check_alive()
            result = await check()
            if result is not None:
                self.waiting_for = ""
                return result
            await trio.sleep(POLL)

    async def _get(self, url: str) -> httpx.Response | None:
        """GET, or None when the daemon is busy or restarting (the wait polls again)."""
        try:
            return await self.http.get(url)
        except httpx.HTTPError:
            return None

    async def add(self, entry: bytes) -> int:
        """POST /add to the main log; the index, once a published checkpoint includes it."""
        resp = await self.http.post(f"{self.net.log.url}/add", content=entry)
        if resp.status_code != 200:
            raise DemoError(f"the log refused an entry: {resp.status_code} {resp.text.strip()}")
        return int(resp.text)

    async def publish(self, versions: list[str], signer: Ed25519Signer) -> dict[int, bytes]:
        """Add one release claim per version, in order, so that no version is logged
        after a higher one (the monitor's rollback rule); {index: entry}."""
        added: dict[int, bytes] = {}
        for version in versions:
            entry = release_entry(version, signer)
            added[await self.add(entry)] = entry
        return added

    def unexpected_pages(self) -> list[str]:
        """Pages that no staged attack explains: a false alarm fails the demo too."""
        return unexpected_pages(self.receiver.alerts(), [w.name for w in self.net.witnesses])

    async def cosigned(self, size: int) -> Cosigned:
        """The first checkpoint of at least `size` that a witness serves with a quorum of
        cosignatures (verified with the policy, as `witnessnet verify` does); then up to
        3 s more for gossip to gather every witness's cosignature on it."""

        async def best() -> Cosigned | None:
            found: Cosigned | None = None
            for w in self.net.witnesses:
                resp = await self._get(w.checkpoint_url)
                if resp is None or resp.status_code != 200:
                    continue
                try:
                    cp, names = verify_cosigned_checkpoint(resp.content, self.net.policy)
                except TlogError:
                    continue
                if cp.size >= size and (found is None or len(names) > len(found.cosigners)):
                    found = Cosigned(cp, names, w.checkpoint_url)
            return found

        first = await self.until(f"a checkpoint of size {size} cosigned by {QUORUM}", best)
        with trio.move_on_after(3):
            while len(first.cosigners) < len(self.net.witnesses):
                await trio.sleep(POLL)
                better = await best()
                if better is not None and better.checkpoint == first.checkpoint:
                    first = better
        return first

    async def check_inclusion(self, cp: Checkpoint, index: int, entry: bytes) -> int:
        """Verify entry `index`'s inclusion proof (from the log's tiles) against `cp`."""
        client = TiledLogClient(
            self.net.log.url, [parse_vkey(self.net.log_vkey)], self.http, origin=ORIGIN
        )
        proof = await client.inclusion_proof(index, cp.size)
        verify_inclusion(RFC6962.leaf(entry), index, cp.size, proof, cp.root)
        return len(proof)

    # Attack (b): a release claim signed by a key the monitor does not know.

    async def unknown_key_release(self, detection: Detection) -> int:
        """Log the claim; wait for the monitor's page. Returns the entry's index."""
        entry = release_entry(UNKNOWN_KEY_VERSION, self.net.attacker)
        index = await self.add(entry)
        logged = time.time()
        self.say(
            f"logged {COMPONENT} {UNKNOWN_KEY_VERSION} signed by {self.net.attacker.name} "
            f"(not an authorised signer) at index {index}"
        )

        async def paged() -> Any:
            pages = [
                r
                for r in self.receiver.pages("unauthorised-signer")
                if r.alert.get("source") == MONITOR_SOURCE
            ]
            return pages[0] if pages else None

        page = await self.until("the monitor's unauthorised-signer page", paged)
        detection.caught_by[MONITOR] = page.at - logged
        detection.also.append("  page: unauthorised-signer")
        finding = base64.b64decode(page.alert["attachment"])
        path = self.evidence_dir / f"monitor-unauthorised-signer-{index}.json"
        path.write_bytes(finding)
        detection.evidence += [str(path), str(self.net.findings)]
        try:
            self.check_finding(json.loads(finding), index, entry)
        except (DemoError, TlogError, ValueError, KeyError) as e:
            detection.problems.append(f"the finding does not verify: {e}")
        return index

    def check_finding(self, finding: dict[str, Any], index: int, entry: bytes) -> None:
        """The finding proves itself: its checkpoint meets the policy and its inclusion
        proof puts the entry at its index in that checkpoint's tree."""
        if finding["index"] != index or base64.b64decode(finding["entry"]) != entry:
            raise DemoError(f"the finding names entry {finding['index']}, not {index}")
        cp, _ = verify_cosigned_checkpoint(finding["checkpoint"], self.net.policy)
        proof = [base64.b64decode(h) for h in finding["inclusion_proof"]]
        verify_inclusion(RFC6962.leaf(entry), index, cp.size, proof, cp.root)
        if not self.net.findings.exists():
            raise DemoError(f"{self.net.findings} was not written")

    # Attack (a): the log shows w3 and w4 a different history.

    async def proofs(self, w: WitnessNode) -> list[dict[str, Any]]:
        """The witness's evidence of the demo log (not its suspicions)."""
        resp = await self._get(f"{w.url}/evidence")
        if resp is None or resp.status_code != 200:
            return []
        return [
            e for e in resp.json() if e.get("origin") == ORIGIN and e.get("kind") != "suspicion"
        ]

    async def frozen(self, w: WitnessNode) -> bool:
        resp = await self._get(f"{w.url}/metrics")
        return resp is not None and "witnessnet_gossip_frozen_logs 1.0" in resp.text

    async def fork(self, detection: Detection) -> None:
        """Grow the log past the fork point; wait until every witness proved the fork,
        froze the log and paged its operator."""
        await self.publish(AFTER_FORK, self.net.publisher)
        forked = self.forked_at = time.time()
        on_fork = ", ".join(w.name.split(".")[0] for w in self.net.witnesses if w.on_fork)
        self.say(f"the log grew by {len(AFTER_FORK)}; {on_fork} now see a different history")
        held: dict[str, dict[str, Any]] = {}
        names = {w.name: w for w in self.net.witnesses}

        async def everyone_proved() -> bool | None:
            for w in self.net.witnesses:
                if w.name not in held and (found := await self.proofs(w)):
                    first = min(found, key=lambda e: float(e["received"]))
                    held[w.name] = first
                    detection.caught_by[w.name] = max(0.0, float(first["received"]) - forked)
            return True if len(held) == len(names) else None

        await self.until("every witness to hold proof of the fork", everyone_proved)
        first = min(detection.caught_by, key=lambda n: detection.caught_by[n])
        self.say(f"every witness holds verified evidence of the fork ({first.split('.')[0]} first)")

        async def everyone_paged() -> bool | None:
            paged = {r.alert["source"] for r in self.receiver.pages("split-view", ORIGIN)}
            return True if paged >= set(names) else None

        await self.until("a split-view page from every witness", everyone_paged)
        pages = self.receiver.pages("split-view", ORIGIN)
        times = [r.at - forked for r in pages if r.alert["source"] in names]
        detection.also.append(
            f"  pages: {len({r.alert['source'] for r in pages})} of {len(names)} operators "
            f"(+{min(times):.1f}..{max(times):.1f} s)"
        )
        frozen = [w.name for w in self.net.witnesses if await self.frozen(w)]
        detection.also.append(f"  froze the log: {len(frozen)} of {len(names)}")
        if len(frozen) < len(names):
            missing = sorted(set(names) - set(frozen))
            detection.problems.append(f"not frozen at {', '.join(missing)}")
        await self.save_evidence(detection)

    async def save_evidence(self, detection: Detection) -> None:
        """Download every distinct evidence file, verify it offline, list file and URL."""
        log_keys = [parse_vkey(self.net.log_vkey)]
        witness_keys = [parse_cosigner_vkey(w.signer.vkey()) for w in self.net.witnesses]
        seen: set[str] = set()
        for w in self.net.witnesses:
            for e in await self.proofs(w):
                fingerprint = str(e["fingerprint"])
                if fingerprint in seen:
                    continue
                seen.add(fingerprint)
                url = f"{w.url}/evidence/{fingerprint}"
                data = (await self.http.get(url)).content
                path = self.evidence_dir / f"{e['kind']}-{fingerprint[:16]}.evidence"
                path.write_bytes(data)
                try:
                    verify_evidence(data, log_keys, witness_keys)
                except (EvidenceError, TlogError) as error:
                    detection.problems.append(f"{path} does not verify: {error}")
                detection.evidence += [str(path), url]

    def monitor_saw_fork(self, detection: Detection) -> None:
        """Credit the monitor when it also reported the fork (it reads every witness's
        checkpoint). Not required: it proves a fork only when it sees both sides cosigned
        at one size, or the fork's side with tiles, and witnesses may freeze before that."""
        for r in self.receiver.pages("integrity"):
            if r.alert.get("source") == MONITOR_SOURCE:
                seconds = r.at - self.forked_at
                detection.also.append(f"also: monitor, integrity finding (+{seconds:.1f} s)")
                return
