"""Benchmark split-view detection by gossip, running the real protocol code (gossip.sim).

For N witnesses, a fraction m colluding with a forking log, and message loss,
prints rounds to the first detection and to evidence at every honest witness
(p50/p99 over trials), exchanges and messages per witness per round, and the
size of a digest of 40,000 logs, each beside its target with PASS/FAIL. Then:
the same network with an honest log and colluders trying to frame it (false
evidence must be 0), and the DESIGN section 5 variant that pushes evidence to
every peer at once.

Usage: python bench/gossip_sim.py [--quick] [--jobs J] [--scale X] [--fork KIND] [--synchronous]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import textwrap
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from gossip.membership import parse_network
from gossip.messages import Digest, Message, ReplayGuard, encode_message, open_message
from gossip.reconcile import LogView, make_digest, plan_exchange
from gossip.sim import (
    COMMON,
    EXCHANGE_ATTEMPTS,
    INTERVAL,
    LAG_SIZE,
    PUSH_ATTEMPTS,
    SIZE,
    VICTIM_SIZE,
    SimConfig,
    TrialResult,
    run_trial,
)
from tlog.checkpoint import Checkpoint
from tlog.cosignature import CosignatureV1Signer
from tlog.keys import Ed25519Signer
from tlog.note import sign_note

NS = (16, 64, 256, 1000)
MS = (0.0, 0.2, 1 / 3, 0.5)
LOSSES = (0.0, 0.3)
FULL_TRIALS = {16: 400, 64: 150, 256: 50, 1000: 10}
DETECT_TRIALS = {16: 1000, 64: 1000, 256: 400, 1000: 100}
QUICK_NS = (16, 64)
QUICK_MS = (0.0, 1 / 3)
QUICK_FULL = {16: 40, 64: 20}
QUICK_DETECT = {16: 200, 64: 100}

DETECT_WITHIN = 3
DETECT_PROBABILITY = 0.99
DETECT_MAX_M = 1 / 3
MAX_EXCHANGES = 2.0
DIGEST_LOGS = 40_000
DIGEST_LIMIT = 3_000_000


def spread_target(n: int) -> int:
    """Rounds within which every honest witness must hold evidence (p99, m = 0)."""
    return math.ceil(math.log2(n)) + 3


def percentile(values: Sequence[int | None], q: float) -> float:
    """Nearest-rank percentile; None (never reached) counts as infinity."""
    xs = sorted(math.inf if v is None else v for v in values)
    return xs[max(0, math.ceil(q / 100 * len(xs)) - 1)]


def show(x: float, limit: int) -> str:
    return f">{limit}" if math.isinf(x) else f"{x:g}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# Running trials in parallel.


@dataclass(frozen=True, slots=True)
class Task:
    """Trials of one configuration, run in one worker process."""

    kind: str
    config: SimConfig
    trials: tuple[int, ...]

    def cost(self) -> float:
        per = self.config.n * (1 if self.config.stop_at_detection else 12)
        per *= 3 if self.config.sign_messages else 1
        per *= self.config.n if self.config.flood else 1
        return per * len(self.trials)


def run_task(task: Task) -> tuple[Task, list[tuple[int, TrialResult]]]:
    """Run a task's trials (in a worker process)."""
    return task, [(t, run_trial(task.config, t)) for t in task.trials]


def batches(kind: str, config: SimConfig, trials: range, units: int) -> list[Task]:
    """Split trials into tasks of about `units` witness-rounds each."""
    size = max(1, units // config.n)
    return [Task(kind, config, tuple(trials[i : i + size])) for i in range(0, len(trials), size)]


def run_all(tasks: list[Task], jobs: int) -> dict[tuple[str, SimConfig], list[TrialResult]]:
    """Results by (kind, config), in trial order."""
    tasks = sorted(tasks, key=Task.cost, reverse=True)
    if jobs == 1:
        done: Iterable[tuple[Task, list[tuple[int, TrialResult]]]] = map(run_task, tasks)
        return _collect(done)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return _collect(pool.map(run_task, tasks))


def _collect(
    done: Iterable[tuple[Task, list[tuple[int, TrialResult]]]],
) -> dict[tuple[str, SimConfig], list[TrialResult]]:
    raw: dict[tuple[str, SimConfig], list[tuple[int, TrialResult]]] = {}
    for task, results in done:
        raw.setdefault((task.kind, task.config), []).extend(results)
    return {key: [r for _, r in sorted(rs, key=lambda x: x[0])] for key, rs in raw.items()}


# The digest of 40,000 logs.


def digest_size(logs: int) -> tuple[int, float, float, float]:
    """Wire size of a signed digest message for `logs` logs; encode, open and plan seconds."""
    log = Ed25519Signer("bench.example/log", hashlib.sha256(b"bench log").digest())
    views = {}
    for i in range(logs):
        origin = f"log{i}.bench.example"
        root = hashlib.sha256(origin.encode()).digest()
        note = sign_note(Checkpoint(origin, 1_000_000 + i, root).body(), [log]).to_bytes()
        views[origin] = LogView(origin, 1_000_000 + i, root, note)
    a, b = (Ed25519Signer(name, hashlib.sha256(name.encode()).digest()) for name in "ab")
    network = parse_network(
        "".join(
            f"witness {s.name} {CosignatureV1Signer(s).vkey()} http://{s.name}/\n" for s in (a, b)
        )
    )
    now = 1_700_000_000
    start = time.perf_counter()
    data = encode_message(Message("a", "b", 1, now, (make_digest(views.values()),)), a)
    encoded = time.perf_counter()
    msg = open_message(data, me="b", network=network, guard=ReplayGuard(), now=now)
    opened = time.perf_counter()
    digest = msg.payloads[0]
    assert isinstance(digest, Digest)
    plan = plan_exchange(views, digest)
    planned = time.perf_counter()
    assert not plan.offers and not plan.wants
    return len(data), encoded - start, opened - encoded, planned - opened


# The report.


WIDTH = 100


def bullet(text: str) -> str:
    return textwrap.fill(text, WIDTH, initial_indent="- ", subsequent_indent="  ")


def header(
    args: argparse.Namespace, ns: Sequence[int], full: dict[int, int], det: dict[int, int]
) -> None:
    fork = {
        "same-size": f"same size: victims hold fork@{SIZE}, the others main@{SIZE}",
        "sizes": f"different sizes: victims hold fork@{VICTIM_SIZE}, the others main@{SIZE}",
    }[args.fork]
    forward = (
        "from the next round (synchronous rounds)"
        if args.synchronous
        else "at once, in its later exchanges of the same round (each round the exchanges run "
        "in a random order: the jittered intervals of the daemon)"
    )
    trials = ", ".join(f"N={n} {full[n]}/{det[n]}" for n in ns)
    print("witnessnet gossip simulation: split-view detection with the real protocol code\n")
    print("Model and assumptions:")
    for text in [
        "Real code: gossip.messages signed msgpack messages (encode_message, open_message with a "
        "ReplayGuard per witness), gossip.reconcile decisions (make_digest, plan_exchange, "
        "answer_request, classify, check_proof, receive_evidence), gossip.evidence files built "
        "and re-verified by every receiver, tlog.merkle trees and proofs. Only the transport is "
        "in memory.",
        f"One log; its main and fork trees share their first {COMMON} leaves. Fork: {fork}. The "
        f"log shows the fork to {args.victims} honest victims and main to every other witness.",
        "round(m*N) colluders follow the log: in digests they claim exactly the honest peer's "
        "view (the log tells them what it showed whom), never send a checkpoint, proof or "
        "evidence, and drop what they get. Nobody can forge the log's signature. Checkpoints "
        "carry only the log's signature (cosignature aggregation is not simulated).",
        f"Each round (one {INTERVAL} s interval) every witness, in a random order, runs one "
        "push-pull exchange with a peer from choose_peer: A->B digest; B->A checkpoints where "
        "the views differ (with a consistency proof from A's size, from the tiles the log shows "
        "B) and a checkpoint-request; A->B the requested checkpoints. Each message is lost "
        "independently with probability `loss`. As in the daemon (HTTP POSTs), A->B is a "
        "request and B->A its answer: a request that is lost, or whose answer is lost, is sent "
        f"once more as a fresh message (new sequence number), {EXCHANGE_ATTEMPTS} attempts in "
        "all, within the same exchange; if both are lost the exchange ends. An empty answer "
        "(204) is not lost.",
        "Evidence travels inside exchanges: a witness attaches each file it holds to every "
        "message to a peer not known to hold it (known: the peer sent it, or replied to a "
        f"message that carried it), and forwards what it learns {forward}.",
        "First detection: the first round in which some honest witness holds verified "
        "evidence. Evidence everywhere: the round by which every honest witness (victims "
        "included) holds it.",
        "Crypto identical across witnesses is cached: one signed note and proof per (tree, "
        "size); log signatures verified once per distinct (text, signature). Message envelopes "
        "are Ed25519-signed and verified in trial 0 of every configuration; other trials carry "
        "an unchecked zero signature (every other open_message check runs). Trial 0 also runs "
        "unsigned and must give an identical result (same random draws, same bytes).",
        f"Trials per configuration (spread/first detection): {trials}. Spread trials run to "
        f"evidence everywhere (at most {args.max_rounds} rounds); the extra detection trials "
        "stop at the first detection. p99 is nearest-rank: below 100 trials, the maximum.",
    ]:
        print(bullet(text))
    print()


def main_table(
    rows: list[tuple[int, float, float]],
    results: dict[tuple[str, SimConfig], list[TrialResult]],
    configs: dict[tuple[int, float, float], SimConfig],
    limit: int,
) -> tuple[int, int]:
    """Print the table; return (number of FAILs, false evidence files)."""
    within, prob = DETECT_WITHIN, DETECT_PROBABILITY
    print(
        f"{'':16}| first detection (round)              | evidence at every honest"
        " witness | exchanges/node/round | msgs/node"
    )
    print(
        f"{'N':>5} {'m':>5} {'loss':>4} | trials p50 p99 P(<={within}) target>={prob}"
        f" | trials p50 p99 target p99   | mean peak target<={MAX_EXCHANGES:g} | /round"
    )
    fails = false = 0
    for n, m, loss in rows:
        c = configs[(n, m, loss)]
        full = results[("full", c)]
        det = full + results.get(("detect", replace(c, stop_at_detection=True)), [])
        firsts = [r.first_detection for r in det]
        p_within = sum(f is not None and f <= within for f in firsts) / len(firsts)
        detect_check = "(none)"
        if m <= DETECT_MAX_M + 1e-9:
            ok = p_within >= prob
            fails += not ok
            detect_check = verdict(ok)
        spread = [r.all_evidence for r in full]
        p99 = percentile(spread, 99)
        spread_check = "(none)"
        if m == 0:
            ok = p99 <= spread_target(n)
            fails += not ok
            spread_check = f"<={spread_target(n):<3} {verdict(ok)}"
        mean_x = sum(r.exchanges_per_node_round for r in full) / len(full)
        peak_x = max(r.peak_exchanges_per_node_round for r in full)
        ok = peak_x <= MAX_EXCHANGES
        fails += not ok
        msgs = sum(r.messages_per_node_round for r in full) / len(full)
        false += sum(r.false_evidence for r in full)
        first50, first99 = (show(percentile(firsts, q), limit) for q in (50, 99))
        spread50, spread99 = show(percentile(spread, 50), limit), show(p99, limit)
        print(
            f"{n:>5} {m:>5.2f} {loss:>4.0%} | {len(firsts):>6} {first50:>3} {first99:>3}"
            f" {p_within:>6.3f} {detect_check:<12} | {len(full):>6} {spread50:>3} {spread99:>3}"
            f" {spread_check:<10}   | {mean_x:4.2f} {peak_x:4.2f} {verdict(ok):<9} | {msgs:5.2f}"
        )
    return fails, false


def frame_table(
    results: dict[tuple[str, SimConfig], list[TrialResult]], configs: list[SimConfig]
) -> int:
    """Print the honest-log runs; return the number of false evidence files (must be 0)."""
    print()
    print(
        textwrap.fill(
            "Honest log, colluders try to frame it: they lie in digests (same size with another "
            "root, or a larger size), send tampered and impostor-signed checkpoints, the real "
            "newest one with a bogus proof, and forged evidence (malformed; same-size with a "
            "tampered note; inconsistent-sizes with a bogus or a valid proof; "
            "witness-equivocation; a suspicion of their own). Honest witnesses start at size "
            f"{LAG_SIZE} or {SIZE}; each trial runs at least {configs[0].min_rounds} rounds.",
            WIDTH,
        )
    )
    false_total = 0
    for c in configs:
        rs = results[("frame", c)]
        false = sum(r.false_evidence for r in rs)
        false_total += false
        outcomes: Counter[str] = Counter()
        for r in rs:
            outcomes.update(dict(r.outcomes))
        refused = sum(
            v for k, v in outcomes.items() if k.startswith(("unverifiable:", "evidence:rejected:"))
        )
        conv50, conv99 = (
            show(percentile([r.converged for r in rs], q), c.max_rounds) for q in (50, 99)
        )
        print(
            f"  N={c.n} m={c.colluding:.2f} loss={c.loss:.0%} trials={len(rs)}: false evidence"
            f" held by honest witnesses {false} (target 0) {verdict(false == 0)}"
        )
        print(
            textwrap.fill(
                f"forgeries refused {refused}, suspicions (warn, not proof)"
                f" {outcomes['evidence:suspected']}, consistency proofs fetched from the log"
                f" {outcomes['checkpoint:needproof']}; every honest witness at size {SIZE} by"
                f" round p50 {conv50}, p99 {conv99}",
                WIDTH,
                initial_indent="    ",
                subsequent_indent="    ",
            )
        )
    return false_total


def flood_table(
    results: dict[tuple[str, SimConfig], list[TrialResult]], configs: list[SimConfig]
) -> None:
    print()
    print(
        textwrap.fill(
            "Variant, not counted above (DESIGN section 5, 'evidence is pushed to every peer at "
            "once', as the daemon's GossipNode.push does): evidence is not attached to exchanges; "
            "a witness that gets new evidence sends it to every other member, one message each "
            f"(counted as an exchange), up to {PUSH_ATTEMPTS} times while it is lost:",
            WIDTH,
        )
    )
    for c in configs:
        rs = results[("flood", c)]
        spread = [r.all_evidence for r in rs]
        spread50, spread99 = (show(percentile(spread, q), c.max_rounds) for q in (50, 99))
        peak = max(r.peak_exchanges_per_node_round for r in rs)
        print(
            f"  N={c.n:<4} m={c.colluding:.2f} loss={c.loss:>3.0%} trials={len(rs)}: evidence"
            f" everywhere p50 {spread50} p99 {spread99}; peak exchanges/node/round {peak:.1f}"
            f" ({verdict(peak <= MAX_EXCHANGES)})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N in 16, 64; m in 0, 1/3; few trials")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every trial count")
    parser.add_argument("--fork", choices=("same-size", "sizes"), default="same-size")
    parser.add_argument("--victims", type=int, default=2)
    parser.add_argument(
        "--synchronous", action="store_true", help="forward evidence from the next round"
    )
    parser.add_argument("--max-rounds", type=int, default=200)
    args = parser.parse_args()
    started = time.perf_counter()

    ns, ms = (QUICK_NS, QUICK_MS) if args.quick else (NS, MS)
    full_n = {
        n: max(1, round((QUICK_FULL if args.quick else FULL_TRIALS)[n] * args.scale)) for n in ns
    }
    det_n = {
        n: max(full_n[n], round((QUICK_DETECT if args.quick else DETECT_TRIALS)[n] * args.scale))
        for n in ns
    }
    header(args, ns, full_n, det_n)

    rows = [(n, m, loss) for n in ns for m in ms for loss in LOSSES]
    configs = {
        (n, m, loss): SimConfig(
            n,
            m,
            loss,
            victims=args.victims,
            fork=args.fork,
            sign_messages=False,
            synchronous=args.synchronous,
            max_rounds=args.max_rounds,
        )
        for n, m, loss in rows
    }
    tasks: list[Task] = []
    for (n, _, _), c in configs.items():
        tasks += batches("full", c, range(full_n[n]), 2_000)
        tasks += batches(
            "detect", replace(c, stop_at_detection=True), range(full_n[n], det_n[n]), 20_000
        )
        tasks.append(Task("signed", replace(c, sign_messages=True), (0,)))

    frame_n, frame_trials = (16, 5) if args.quick else (256, 3)
    frames = [
        SimConfig(
            frame_n,
            0.5,
            loss,
            fork="none",
            sign_messages=False,
            min_rounds=20,
            max_rounds=args.max_rounds,
        )
        for loss in LOSSES
    ]
    for c in frames:
        tasks += batches("frame", c, range(frame_trials), 1)
    flood_ns, flood_trials = ((16,), 5) if args.quick else ((16, 64), 5)
    floods = [
        SimConfig(
            n,
            m,
            loss,
            victims=args.victims,
            fork=args.fork,
            sign_messages=False,
            flood=True,
            max_rounds=args.max_rounds,
        )
        for n in flood_ns
        for m in (0.0, 1 / 3)
        for loss in LOSSES
    ]
    for c in floods:
        tasks += batches("flood", c, range(flood_trials), 1)

    results = run_all(tasks, args.jobs)

    fails, false = main_table(rows, results, configs, args.max_rounds)
    mismatched = [
        key
        for key, c in configs.items()
        if results[("signed", replace(c, sign_messages=True))][0] != results[("full", c)][0]
    ]
    fails += bool(mismatched)
    print(
        f"\nTrial 0 of each of the {len(configs)} configurations with Ed25519-signed and verified"
        f" envelopes is identical to\nits unsigned run: {verdict(not mismatched)}"
        + (f" (differ: {mismatched})" if mismatched else "")
    )
    print(
        f"False evidence held by honest witnesses in the runs above: {false} (target 0)"
        f" {verdict(false == 0)}"
    )
    fails += false > 0
    fails += frame_table(results, frames) > 0
    flood_table(results, floods)

    size, enc, opn, plan = digest_size(DIGEST_LOGS)
    ok = size <= DIGEST_LIMIT
    fails += not ok
    print(
        f"\nDigest of {DIGEST_LOGS:,} logs: {size:,} bytes as a signed message"
        f" (target <= {DIGEST_LIMIT:,}) {verdict(ok)}\n"
        f"  encode+sign {enc * 1000:.0f} ms, open+verify {opn * 1000:.0f} ms,"
        f" plan_exchange {plan * 1000:.0f} ms"
    )
    elapsed = time.perf_counter() - started
    print(f"\n{fails} target(s) failed; {elapsed:.0f} s with {args.jobs} worker process(es)")


if __name__ == "__main__":
    main()
