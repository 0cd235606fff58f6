"""`witnessnet demo` itself: start the network, publish, show the cosigned checkpoint,
stage both attacks, print the summary; optionally keep the network up until Ctrl-C.

Shutdown is one path for every ending (success, failure, timeout, SIGINT, SIGTERM):
the steps' cancel scope ends, every child gets SIGTERM and is reaped, and the
directory is removed unless --keep-dir.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import trio

from tlog.errors import TlogError
from witnessnet.demo.attacks import (
    AFTER_FORK,
    FIRST_RELEASES,
    MONITOR,
    UNKNOWN_KEY_VERSION,
    DemoError,
    Steps,
)
from witnessnet.demo.network import (
    FORK_AT,
    ON_FORK,
    QUORUM,
    WITNESSES,
    Network,
    start_network,
    witness_names,
)
from witnessnet.demo.procs import ChildError, Children
from witnessnet.demo.progress import Progress
from witnessnet.demo.receiver import Receiver
from witnessnet.demo.summary import Detection, render_table

EXIT_OK, EXIT_MISSED, EXIT_INTERRUPTED = 0, 1, 130
FAILURES = (DemoError, ChildError, TlogError, httpx.HTTPError, OSError)


@dataclass(frozen=True)
class Options:
    timeout: float
    keep_running: bool
    keep_dir: bool


def short(name: str) -> str:
    """w0.demo.witnessnet.example -> w0"""
    return name.split(".")[0]


def _detections(witnesses: list[str]) -> tuple[Detection, Detection]:
    """What each attack must cause: (1) a monitor page, (2) every witness's proof."""
    claim = Detection(
        f"1. release {UNKNOWN_KEY_VERSION} signed\n   by an unknown key",
        [MONITOR],
    )
    fork = Detection(
        "2. split view: the log\n"
        f"   forks for {', '.join(f'w{i}' for i in ON_FORK)} after\n   entry {FORK_AT}",
        witnesses,
        {name: short(name) for name in witnesses},
    )
    return claim, fork


async def _run_steps(
    steps: Steps, net: Network, fork: Detection, claim: Detection, p: Progress
) -> None:
    added = await steps.publish(FIRST_RELEASES, net.publisher)
    p.step(
        f"published {len(added)} releases of witnessnet signed by {net.publisher.name} "
        f"(entries 0..{len(added) - 1})"
    )
    cosigned = await steps.cosigned(len(added))
    cp = cosigned.checkpoint
    names = ", ".join(sorted(short(n) for n in cosigned.cosigners))
    p.step(
        f"checkpoint size {cp.size} cosigned by {len(cosigned.cosigners)} of {WITNESSES} "
        f"witnesses ({names}); meets the policy's quorum of {QUORUM}"
    )
    hashes = await steps.check_inclusion(cp, 0, added[0])
    p.detail(f"read from {cosigned.source}")
    p.detail(f"inclusion proof of entry 0 ({hashes} hashes) verifies against its root")

    p.step("attack 1: a release signed by a key that the monitor's rules do not authorise")
    index = await steps.unknown_key_release(claim)
    p.step(
        f"monitor paged unauthorised-signer for entry {index} after "
        f"{claim.caught_by[MONITOR]:.1f} s; the finding's inclusion proof verifies"
    )

    p.step(
        f"attack 2: the log forks: {', '.join(f'w{i}' for i in ON_FORK)} follow a "
        f"history that differs after entry {FORK_AT}; {len(AFTER_FORK)} more releases"
    )
    await steps.fork(fork)
    p.step(
        f"every witness proved the fork within {fork.last() or 0:.1f} s, froze the log and "
        "paged its operator"
    )
    steps.monitor_saw_fork(fork)


def _summary(p: Progress, detections: tuple[Detection, ...], keep_dir: bool, dir: Path) -> None:
    p.line()
    p.line("SUMMARY")
    p.line(render_table(detections))
    p.line()
    if any(e.endswith(".evidence") for d in detections for e in d.evidence):
        p.line("Check a .evidence file yourself: witnessnet evidence verify FILE --log-vkey LOGKEY")
    if not keep_dir:
        p.line(f"(files are under {dir}, removed on exit: use --keep-dir to keep them)")


def _status(p: Progress, net: Network) -> None:
    p.line()
    p.line("The network stays up; press Ctrl-C to stop it.")
    p.line("Status pages (and /metrics) of every daemon:")
    for w in net.witnesses:
        assert w.child is not None
        p.line(f"  {short(w.name)}       {w.url}/  (evidence: {w.url}/evidence)  pid {w.child.pid}")
    monitor = net.monitor.url
    p.line(f"  monitor  {monitor}/  (findings: {monitor}/findings.json)  pid {net.monitor.pid}")
    fork = net.log.listening["fork_url"]
    p.line(f"  log      {net.log.url}/checkpoint  (fork: {fork}/checkpoint)  pid {net.log.pid}")
    p.line(f"  files    {net.directory}")


class DemoRun:
    """One run: what it has started, what it has seen, and how it ended."""

    def __init__(self, options: Options, out: IO[str]) -> None:
        self.options = options
        self.p = Progress(out)
        self.directory = Path(tempfile.mkdtemp(prefix="witnessnet-demo-"))
        self.children = Children()
        self.receiver = Receiver()
        self.claim, self.fork = _detections(witness_names())
        self.failure: str | None = None
        self.false_alarms: list[str] = []
        self.interrupted = False
        self.kept_up = False
        self.steps_scope = trio.CancelScope()
        self.wait_scope = trio.CancelScope()

    async def watch_signals(self) -> None:
        """SIGINT or SIGTERM end the steps or the --keep-running wait, never the cleanup."""
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                self.interrupted = True
                self.steps_scope.cancel()
                self.wait_scope.cancel()

    async def steps(self, http: httpx.AsyncClient) -> Network | None:
        """Start the network and run every step, within --timeout; the network, if it
        started. A failure or timeout is recorded, not raised."""
        net: Network | None = None
        steps: Steps | None = None
        self.steps_scope.deadline = trio.current_time() + self.options.timeout
        with self.steps_scope:
            try:
                net = await start_network(self.directory, self.children, self.receiver.hook, self.p)
                steps = Steps(net, http, self.receiver, self.children, self.p.detail)
                await _run_steps(steps, net, self.fork, self.claim, self.p)
                self.false_alarms = steps.unexpected_pages()
            except FAILURES as e:
                self.failure = f"{type(e).__name__}: {e}"
        if self.steps_scope.cancelled_caught and not self.interrupted:
            # Between two waits (a request, a verification) no wait names itself.
            waiting = (steps.waiting_for if steps else "the network to start") or (
                "the current step to finish"
            )
            self.failure = f"timed out after {self.options.timeout:.0f} s waiting for {waiting}"
        return net

    async def run(self) -> int:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self.watch_signals)
                await nursery.start(self.receiver.serve)
                self.p.step(f"files in {self.directory}; alerts go to {self.receiver.hook}")
                async with httpx.AsyncClient(timeout=10) as http:
                    net = await self.steps(http)
                if self.interrupted:
                    self.p.line("interrupted: stopping the network")
                else:
                    _summary(self.p, (self.claim, self.fork), self.options.keep_dir, self.directory)
                    if self.options.keep_running and net is not None and self.failure is None:
                        await self.keep_up(net)
                nursery.cancel_scope.cancel()
        finally:
            await self.children.stop_all()
            if self.options.keep_dir:
                self.p.line(f"kept {self.directory}")
            else:
                shutil.rmtree(self.directory, ignore_errors=True)
        return self.verdict()

    async def keep_up(self, net: Network) -> None:
        _status(self.p, net)
        self.kept_up = True
        with self.wait_scope:
            await trio.sleep_forever()
        self.p.line("stopping the network")

    def verdict(self) -> int:
        """The exit status, with its reason as the last line."""
        if self.interrupted and not self.kept_up:
            self.p.line("INTERRUPTED before the end: nothing was concluded")
            return EXIT_INTERRUPTED
        if self.failure is not None:
            self.p.line(f"FAILED: {self.failure}")
            return EXIT_MISSED
        missed = [d for d in (self.claim, self.fork) if not d.caught]
        for d in missed:
            who = ", ".join(short(n) for n in d.missed) or "-"
            problems = "; ".join(d.problems) or "-"
            attack = " ".join(d.attack.split())
            self.p.line(f"FAILED: {attack}: missed by {who}; problems: {problems}")
        for alarm in self.false_alarms:
            self.p.line(f"FAILED: a page no attack explains: {alarm}")
        if missed or self.false_alarms:
            return EXIT_MISSED
        self.p.line(f"OK: both attacks were caught, with evidence, in {self.p.elapsed():.1f} s")
        return EXIT_OK


async def run_demo(options: Options, out: IO[str]) -> int:
    """Run the demo; the exit status (see witnessnet.commands.demo)."""
    return await DemoRun(options, out).run()
