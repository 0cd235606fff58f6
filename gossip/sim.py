"""Simulate the gossip protocol in memory: real messages and decisions, no sockets.

run_trial plays one network of witnesses for up to `max_rounds` rounds through
the real protocol code: messages are built and encoded by gossip.messages
(msgpack, Ed25519-signed by the sender's witness key) and opened by the
recipient (signature, recipient, time window, replay guard); the decisions are
gossip.reconcile's (make_digest, plan_exchange, answer_request, classify,
check_proof, receive_evidence) and evidence is built and verified by
gossip.evidence. Only the transport is simulated.

The model:

- One log, origin ORIGIN, whose trees `main` and `fork` share their first
  COMMON leaves. It signs checkpoints of both. It shows `fork` to `victims`
  honest witnesses and `main` to every other witness, and gives each witness
  consistency proofs (tiles) of the tree it shows that witness.
  fork="same-size": victims hold fork@SIZE, the others main@SIZE.
  fork="sizes": victims hold fork@VICTIM_SIZE, the others main@SIZE.
  fork="none": an honest log; each honest witness starts at LAG_SIZE or SIZE.
- round(colluding * n) witnesses, chosen at random, collude with the log. With a
  fork they hide it: in every digest they claim exactly the view of the honest
  peer they talk to (the log tells them what it showed whom), so the peer finds
  nothing to reconcile; they never send a checkpoint, a proof or evidence, and
  drop what they receive. Two colluders exchange no messages. With an honest
  log (fork="none") they try to frame it: lying digests, tampered and
  impostor-signed checkpoints, bogus proofs and forged evidence files.
- Rounds: every witness, in a random order, runs one push-pull exchange with a
  peer chosen by choose_peer. Exchange: A -> B digest (and evidence); B -> A the
  checkpoints its plan offers (with a consistency proof from A's size), its
  checkpoint-request and evidence; A -> B answer_request's checkpoints and
  proofs. Each message is lost independently with probability `loss`. As in the
  daemon (GossipNode.exchange over HTTP), A -> B is a request and B -> A its
  answer: a request that is lost, or whose answer is lost, is sent once more as a
  fresh message (new sequence number; B handles it again), EXCHANGE_ATTEMPTS in
  all, within the same exchange; if that is lost too the exchange ends. A
  responder with nothing to send sends nothing (an empty answer is not lost).
- Evidence: a witness holds it from its own Conflict or a Proven
  receive_evidence, and attaches it to every message to a peer not known to
  hold it (a peer is known to hold it once it sent it to us or replied to a
  message that carried it). By default it does so at once, in its later
  exchanges of the same round: the exchanges of a round run in a random order,
  like the jittered intervals of the daemon. synchronous=True forwards only
  from the next round. flood=True instead pushes new evidence, outside the
  exchanges, to every other member at once, one message each, sent again up to
  PUSH_ATTEMPTS times in all while it is lost (DESIGN section 5, as the
  daemon's GossipNode.push does). A witness that holds evidence freezes the
  log: it no longer advances.
- Checkpoints carry only the log's signature: cosignature aggregation and
  witness-equivocation evidence are not simulated.
- Detection: the first round at which some honest witness holds verified
  evidence.

Crypto that is identical across witnesses is cached: each signed checkpoint,
proof and view is made once, and log signatures are verified once per distinct
(text, signature) (CachedVerifier). With sign_messages=False message envelopes
carry a zero signature that is not checked; every other check of open_message
still runs, and the run is otherwise identical (same random draws, same bytes
counted), which is what lets a benchmark afford many trials.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal, Protocol

from gossip.errors import EvidenceError, ReplayError, UnknownSenderError
from gossip.evidence import (
    Embedded,
    EquivocationFile,
    InconsistentSizesFile,
    Reason,
    SameSizeFile,
    build_inconsistent_sizes,
    build_same_size,
    build_suspicion,
    verify_evidence,
)
from gossip.membership import Member, Network, choose_peer, parse_network
from gossip.messages import (
    MAX_CLOCK_SKEW,
    CheckpointRequest,
    Checkpoints,
    Digest,
    DigestEntry,
    Evidence,
    Message,
    Payload,
    Proof,
    ReplayGuard,
    Want,
    decode_message,
    encode_message,
    next_sequence,
    open_message,
)
from gossip.reconcile import (
    Advance,
    AlreadyKnown,
    Conflict,
    LogView,
    NeedProof,
    Offer,
    Outcome,
    Proven,
    Rejected,
    Suspected,
    Unverifiable,
    answer_request,
    check_proof,
    classify,
    make_digest,
    plan_exchange,
    receive_evidence,
)
from tlog.checkpoint import Checkpoint, parse_checkpoint
from tlog.cosignature import CosignatureV1Signer
from tlog.keys import Ed25519Signer
from tlog.merkle import RFC6962, MemoryTree
from tlog.note import Note, Verifier, parse_note, sign_note

ForkKind = Literal["same-size", "sizes", "none"]
Branch = Literal["main", "fork"]

ORIGIN = "sim.example/log"
COMMON = 700
SIZE = 1000
VICTIM_SIZE = 900
LAG_SIZE = 900
START_TIME = 1_700_000_000
INTERVAL = 10
PUSH_ATTEMPTS = 3
EXCHANGE_ATTEMPTS = 2  # as gossip.node.EXCHANGE_ATTEMPTS


def _seed(label: str) -> bytes:
    return hashlib.sha256(b"witnessnet gossip sim\n" + label.encode()).digest()


@dataclass(frozen=True, slots=True)
class SimConfig:
    """One simulated network: `n` witnesses, a fraction `colluding` with the log.

    `loss`: the probability that each message is lost. `victims`: honest
    witnesses shown the fork. `fork`: see the module doc. `sign_messages`: sign
    and verify message envelopes with Ed25519. `synchronous`, `flood`: how
    evidence is forwarded (module doc). `stop_at_detection`: end the trial at
    the first detection. A trial ends when every honest witness holds evidence
    (with an honest log: holds the newest checkpoint) and at least `min_rounds`
    have run, or after `max_rounds`.
    """

    n: int
    colluding: float = 0.0
    loss: float = 0.0
    victims: int = 2
    fork: ForkKind = "same-size"
    sign_messages: bool = True
    synchronous: bool = False
    flood: bool = False
    stop_at_detection: bool = False
    max_rounds: int = 200
    min_rounds: int = 0

    def __post_init__(self) -> None:
        if not 2 <= self.n <= 10_000:
            raise ValueError(f"n={self.n}: want 2..10000 witnesses")
        if not 0 <= self.colluding < 1 or not 0 <= self.loss < 1:
            raise ValueError("colluding and loss are fractions in [0, 1)")
        if self.fork not in ("same-size", "sizes", "none"):
            raise ValueError(f"unknown fork kind {self.fork!r}")
        victims = 0 if self.fork == "none" else self.victims
        if not 0 <= victims < self.honest:
            raise ValueError(
                f"{self.victims} victims need more honest witnesses than {self.honest}"
            )
        if self.max_rounds < max(1, self.min_rounds):
            raise ValueError("max_rounds must be at least 1 and at least min_rounds")

    @property
    def colluders(self) -> int:
        """The number of colluding witnesses."""
        return round(self.colluding * self.n)

    @property
    def honest(self) -> int:
        """The number of honest witnesses (victims included)."""
        return self.n - self.colluders

    def label(self) -> str:
        """Names the scenario to seed its trials: not sign_messages, stop_at_detection or
        round limits, which change how much of a trial runs but not what happens in it."""
        return (
            f"{self.n}/{self.colluding:.6f}/{self.loss:.6f}/{self.victims}/{self.fork}"
            f"/{self.synchronous}/{self.flood}"
        )


@dataclass(frozen=True, slots=True)
class TrialResult:
    """What one trial measured. Rounds count from 1; None: not reached by `rounds`.

    `first_detection`: the first round in which an honest witness held verified
    evidence; `all_evidence`: the round by which every honest witness did;
    `converged` (fork="none"): the round by which every honest witness held the
    log's newest checkpoint. `initiated` and `answered` count exchanges (an
    exchange is answered when its first message arrives), `peak_exchanges` the
    initiated plus answered ones of the busiest round. `false_evidence` counts
    evidence files held by honest witnesses that are not genuine proof of the
    log's real fork (any file, with an honest log); `evidence` holds the distinct
    files they hold; `outcomes` counts classify and receive_evidence outcomes.
    """

    n: int
    honest: int
    rounds: int
    first_detection: int | None
    all_evidence: int | None
    converged: int | None
    initiated: int
    answered: int
    peak_exchanges: int
    messages: int
    bytes: int
    false_evidence: int
    evidence: tuple[bytes, ...]
    outcomes: tuple[tuple[str, int], ...]

    @property
    def exchanges_per_node_round(self) -> float:
        """Exchanges each witness took part in per round (initiated or answered), on average."""
        return (self.initiated + self.answered) / (self.n * self.rounds)

    @property
    def peak_exchanges_per_node_round(self) -> float:
        """The same average in the busiest round."""
        return self.peak_exchanges / self.n

    @property
    def messages_per_node_round(self) -> float:
        """Messages each witness sent per round, on average."""
        return self.messages / (self.n * self.rounds)


# Material shared by every trial in a process: identical for every witness.


class CachedVerifier:
    """A note Verifier that checks each distinct (text, signature) once.

    Every witness verifies the same few log-signed checkpoints; the result of
    verifying identical bytes with the same key is identical, so it is cached.
    """

    def __init__(self, inner: Verifier) -> None:
        self._inner = inner
        self.name = inner.name
        self.key_id = inner.key_id
        self._memo: dict[tuple[bytes, bytes], bool] = {}

    def verify(self, text: bytes, signature: bytes) -> bool:
        key = (text, signature)
        ok = self._memo.get(key)
        if ok is None:
            ok = self._memo[key] = self._inner.verify(text, signature)
        return ok


class SimLog:
    """The log: two trees sharing a prefix, and the notes, proofs and views it hands out."""

    def __init__(self) -> None:
        self.signer = Ed25519Signer(ORIGIN, _seed("log"))
        self.verifier = self.signer.verifier()
        self.verifiers: list[Verifier] = [CachedVerifier(self.verifier)]
        shared = [RFC6962.leaf(b"common %d" % i) for i in range(COMMON)]
        self.trees: dict[str, MemoryTree] = {
            b: MemoryTree(shared + [RFC6962.leaf(f"{b} {i}".encode()) for i in range(COMMON, SIZE)])
            for b in ("main", "fork")
        }
        self._notes: dict[tuple[str, int], bytes] = {}
        self._views: dict[tuple[str, int], LogView] = {}
        self._proofs: dict[tuple[str, int, int], tuple[bytes, ...]] = {}

    def trusted(self, origin: str) -> Sequence[Verifier] | None:
        """gossip.reconcile.TrustedLogs: the log's (cached) verifier for ORIGIN."""
        return self.verifiers if origin == ORIGIN else None

    def note(self, branch: str, size: int) -> bytes:
        """The log-signed checkpoint of the first `size` leaves of `branch`."""
        key = (branch, size)
        if key not in self._notes:
            body = Checkpoint(ORIGIN, size, self.trees[branch].root(size)).body()
            self._notes[key] = sign_note(body, [self.signer]).to_bytes()
        return self._notes[key]

    def view(self, branch: str, size: int) -> LogView:
        """A witness's view holding the checkpoint of `branch` at `size`."""
        key = (branch, size)
        if key not in self._views:
            root = self.trees[branch].root(size)
            self._views[key] = LogView(ORIGIN, size, root, self.note(branch, size))
        return self._views[key]

    def proof(self, branch: str, old: int, new: int) -> tuple[bytes, ...] | None:
        """The consistency proof in `branch` from `old` to `new`, or None beyond the tree."""
        if not 0 < old < new <= self.trees[branch].size:
            return None
        key = (branch, old, new)
        if key not in self._proofs:
            self._proofs[key] = tuple(self.trees[branch].consistency_proof(old, new))
        return self._proofs[key]

    def fork_fingerprints(self) -> frozenset[str]:
        """What genuine evidence of this log's fork proves, for either fork kind."""
        same = build_same_size(self.note("main", SIZE), self.note("fork", SIZE), [self.verifier])
        proof = self.proof("main", VICTIM_SIZE, SIZE) or ()
        sizes = build_inconsistent_sizes(
            self.note("fork", VICTIM_SIZE), self.note("main", SIZE), proof, [self.verifier]
        )
        return frozenset(verify_evidence(f, [self.verifier]).fingerprint for f in (same, sizes))


class _IndexedNetwork(Network):
    """A Network whose get is a dict lookup: open_message looks up every sender."""

    __slots__ = ("_index",)

    def __init__(self, members: tuple[Member, ...]) -> None:
        super().__init__(members)
        object.__setattr__(self, "_index", {m.name: m for m in members})

    def get(self, name: str) -> Member | None:
        return self._index.get(name)


@dataclass(frozen=True, slots=True)
class _Cast:
    signers: tuple[Ed25519Signer, ...]
    network: Network
    witnesses: tuple[Verifier, ...]


@cache
def _cast(n: int) -> _Cast:
    signers = tuple(Ed25519Signer(f"w{i}", _seed(f"w{i}")) for i in range(n))
    text = "".join(
        f"witness {s.name} {CosignatureV1Signer(s).vkey()} http://{s.name}/\n" for s in signers
    )
    parsed = parse_network(text, "simulated network")
    return _Cast(signers, _IndexedNetwork(parsed.members), tuple(parsed.cosigners()))


@cache
def sim_log() -> SimLog:
    """The simulated log (one per process: every trial uses the same trees and keys)."""
    return SimLog()


@cache
def _fork_fingerprints() -> frozenset[str]:
    return sim_log().fork_fingerprints()


class _NoSignature:
    """Stands in for the sender's key when message signatures are not simulated."""

    def sign_raw(self, message: bytes) -> bytes:
        return bytes(64)


def _open_unsigned(
    data: bytes, me: str, network: Network, guard: ReplayGuard, now: float
) -> Message:
    """open_message without the Ed25519 check: same decoding, sender, recipient, time, replay."""
    msg = decode_message(data).message
    if network.get(msg.sender) is None:
        raise UnknownSenderError(f"sender {msg.sender!r} is not in the network file")
    if msg.recipient != me or abs(msg.time - now) > MAX_CLOCK_SKEW:
        raise ReplayError(f"message {msg.seq} from {msg.sender}: wrong recipient or time")
    guard.accept(msg.sender, msg.seq)
    return msg


# Witnesses.


class _Node(Protocol):
    name: str
    signer: Ed25519Signer
    guard: ReplayGuard
    seq: int
    honest: bool
    view: dict[str, LogView]

    def first(self, peer: _Node) -> list[Payload] | None: ...
    def on_first(self, msg: Message) -> list[Payload]: ...
    def on_second(self, msg: Message) -> list[Payload]: ...
    def on_third(self, msg: Message) -> None: ...
    def acked(self, peer: str, payloads: Sequence[Payload]) -> None: ...


class _Witness:
    """An honest witness: the shell around the pure protocol decisions."""

    honest = True

    def __init__(self, trial: _Trial, signer: Ed25519Signer, branch: str, size: int) -> None:
        self.trial = trial
        self.name = signer.name
        self.signer = signer
        self.guard = ReplayGuard()
        self.seq = 0
        self.branch = branch
        self.view = {ORIGIN: trial.log.view(branch, size)}
        self.evidence: dict[str, tuple[bytes, int]] = {}
        self.fingerprint_of: dict[bytes, str] = {}
        self.holders: dict[str, set[str]] = {}

    # Sending.

    def _evidence_for(self, peer: str) -> list[Payload]:
        if self.trial.config.flood:
            return []
        r = self.trial.round
        return [
            Evidence(file)
            for fp, (file, learned) in self.evidence.items()
            if (learned < r or not self.trial.config.synchronous) and peer not in self.holders[fp]
        ]

    def _offer(self, offers: Sequence[Offer]) -> list[Payload]:
        notes: list[bytes] = []
        proofs: list[Payload] = []
        for o in offers:
            v = self.view[o.origin]
            assert v.note is not None
            notes.append(v.note)
            hashes = self.trial.log.proof(self.branch, o.peer_size, v.size)
            if hashes is not None:
                proofs.append(Proof(v.origin_hash, o.peer_size, v.size, hashes))
        return [Checkpoints(tuple(notes)), *proofs] if notes else []

    def first(self, peer: _Node) -> list[Payload]:
        return [make_digest(self.view.values()), *self._evidence_for(peer.name)]

    def on_first(self, msg: Message) -> list[Payload]:
        self._take(msg)
        out: list[Payload] = []
        for p in msg.payloads:
            if isinstance(p, Digest):
                plan = plan_exchange(self.view, p)
                out += self._offer(plan.offers)
                request = plan.request()
                if request is not None:
                    out.append(request)
        return out + self._evidence_for(msg.sender)

    def on_second(self, msg: Message) -> list[Payload]:
        self._take(msg)
        out: list[Payload] = []
        for p in msg.payloads:
            if isinstance(p, CheckpointRequest):
                out += self._offer(answer_request(self.view, p))
        return out

    def on_third(self, msg: Message) -> None:
        self._take(msg)

    def acked(self, peer: str, payloads: Sequence[Payload]) -> None:
        for p in payloads:
            if isinstance(p, Evidence):
                self.holders[self.fingerprint_of[p.file]].add(peer)

    # Receiving.

    def _take(self, msg: Message) -> None:
        proofs = tuple(p for p in msg.payloads if isinstance(p, Proof))
        for p in msg.payloads:
            if isinstance(p, Evidence):
                self._receive_evidence(p.file, msg.sender)
            elif isinstance(p, Checkpoints):
                for note in p.notes:
                    self._handle(
                        classify(
                            note, self.view, self.trial.log.trusted, self.trial.witnesses, proofs
                        )
                    )

    def _receive_evidence(self, file: bytes, sender: str) -> None:
        got = receive_evidence(file, self.trial.log.trusted, self.trial.witnesses, self.evidence)
        if isinstance(got, Proven):
            self.trial.count("evidence:proven")
            self._store(file, got.verified.fingerprint)
            self.holders[got.verified.fingerprint].add(sender)
        elif isinstance(got, AlreadyKnown):
            self.trial.count("evidence:already_known")
            self.holders[got.fingerprint].add(sender)
        elif isinstance(got, Suspected):
            self.trial.count("evidence:suspected")
        elif isinstance(got, Rejected):
            self.trial.count(f"evidence:rejected:{got.reason}")

    def _store(self, file: bytes, fp: str) -> None:
        if fp in self.evidence:
            return
        self.evidence[fp] = (file, self.trial.round)
        self.fingerprint_of[file] = fp
        self.holders[fp] = set()
        self.trial.holds_evidence(self, file)

    def _handle(self, outcome: Outcome) -> None:
        self.trial.count(f"checkpoint:{type(outcome).__name__.lower()}")
        if isinstance(outcome, Advance) and not self.evidence:
            self._set(outcome.note)
        elif isinstance(outcome, Conflict):
            self._store(outcome.evidence, outcome.verified.fingerprint)
        elif isinstance(outcome, NeedProof):
            self._fetch_proof(outcome)
        elif isinstance(outcome, Unverifiable):
            self.trial.count(f"unverifiable:{outcome.reason}")

    def _set(self, note: bytes) -> None:
        cp = parse_checkpoint(parse_note(note).text)
        self.view = {**self.view, cp.origin: LogView(cp.origin, cp.size, cp.root, note)}

    def _fetch_proof(self, need: NeedProof) -> None:
        """Ask the log (which gives the proof of the tree it shows us); else a suspicion."""
        mine = self.view[need.origin]
        verifiers = self.trial.log.trusted(need.origin) or ()
        hashes = self.trial.log.proof(self.branch, need.old_size, need.new_size)
        if hashes is not None:
            outcome = check_proof(mine, need.note, hashes, verifiers, self.trial.witnesses)
            if not isinstance(outcome, NeedProof):
                self._handle(outcome)
                return
        assert mine.note is not None
        build_suspicion(
            self.signer,
            Reason.NO_PROOF if hashes is None else Reason.BAD_PROOF,
            1,
            need.reason,
            mine.note,
            need.note,
            verifiers,
            int(self.trial.now),
        )
        self.trial.count("suspicion:built")


class _Hider:
    """A witness colluding with a forking log: agrees with everyone, passes nothing on."""

    honest = False

    def __init__(self, trial: _Trial, signer: Ed25519Signer) -> None:
        self.name = signer.name
        self.signer = signer
        self.guard = ReplayGuard()
        self.seq = 0
        self.view: dict[str, LogView] = {}

    def first(self, peer: _Node) -> list[Payload] | None:
        return [make_digest(peer.view.values())] if peer.honest else None

    def on_first(self, msg: Message) -> list[Payload]:
        return []

    def on_second(self, msg: Message) -> list[Payload]:
        return []

    def on_third(self, msg: Message) -> None:
        return None

    def acked(self, peer: str, payloads: Sequence[Payload]) -> None:
        return None


@dataclass(frozen=True, slots=True)
class _Forgeries:
    """What a colluder can make against an honest log without its key."""

    notes: tuple[bytes, ...]
    evidence: tuple[bytes, ...]
    real_new: bytes


def _tampered(note: bytes, root: bytes) -> bytes:
    """`note` with another root and the original signature lines: does not verify."""
    n = parse_note(note)
    cp = parse_checkpoint(n.text)
    return Note(Checkpoint(cp.origin, cp.size, root).body(), n.signatures).to_bytes()


@cache
def _forgeries(colluder: Ed25519Signer) -> _Forgeries:
    log = sim_log()
    old, new = log.note("main", LAG_SIZE), log.note("main", SIZE)
    fake_root = hashlib.sha256(b"forged root").digest()
    tampered = _tampered(new, fake_root)
    impostor = sign_note(
        Checkpoint(ORIGIN, SIZE, fake_root).body(), [Ed25519Signer(ORIGIN, _seed("impostor"))]
    ).to_bytes()
    stranger = Ed25519Signer("stranger.example/log", _seed("stranger"))
    unknown = sign_note(Checkpoint(stranger.name, SIZE, fake_root).body(), [stranger]).to_bytes()
    real, forged = Embedded.parse(new, "real"), Embedded.parse(tampered, "tampered")
    first, second = sorted((real, forged), key=lambda e: e.checkpoint.root)
    same = SameSizeFile(first, second)
    proof = log.proof("main", LAG_SIZE, SIZE) or ()
    bogus = tuple(hashlib.sha256(b"bogus %d" % i).digest() for i in range(len(proof)))
    smaller = Embedded.parse(old, "old")
    evidence = (
        b"witnessnet-evidence/v1\nkind nonsense\n",
        same.to_bytes(),
        InconsistentSizesFile(smaller, real, None, bogus).to_bytes(),
        InconsistentSizesFile(smaller, real, None, proof).to_bytes(),
        EquivocationFile(colluder.name, first, second, same).to_bytes(),
        build_suspicion(colluder, Reason.NO_PROOF, 3, "made up", old, new, [log.verifier], 0),
    )
    return _Forgeries((tampered, impostor, unknown, old), evidence, new)


class _Framer:
    """A witness colluding against an honest log: tries to make honest witnesses accuse it."""

    honest = False

    def __init__(self, trial: _Trial, signer: Ed25519Signer) -> None:
        self.trial = trial
        self.name = signer.name
        self.signer = signer
        self.guard = ReplayGuard()
        self.seq = 0
        self.view: dict[str, LogView] = {}
        self.forged = _forgeries(signer)

    def _junk(self) -> list[Payload]:
        rng = self.trial.rng
        return [Evidence(f) for f in rng.sample(self.forged.evidence, rng.randint(0, 2))]

    def _checkpoints(self) -> list[Payload]:
        """Forged notes, and the real newest one with a bogus proof from LAG_SIZE."""
        rng = self.trial.rng
        notes = (*rng.sample(self.forged.notes, 2), self.forged.real_new)
        h = self.trial.log.view("main", SIZE).origin_hash
        bogus = tuple(hashlib.sha256(b"lie %d" % i).digest() for i in range(4))
        return [Checkpoints(notes), Proof(h, LAG_SIZE, SIZE, bogus)]

    def first(self, peer: _Node) -> list[Payload] | None:
        if not peer.honest:
            return None
        v = peer.view[ORIGIN]
        size = v.size if self.trial.rng.random() < 0.5 else SIZE + 1
        lie = DigestEntry(v.origin_hash, size, self.trial.rng.randbytes(32), v.tag)
        return [Digest((lie,)), *self._junk()]

    def on_first(self, msg: Message) -> list[Payload]:
        h = self.trial.log.view("main", SIZE).origin_hash
        return [*self._checkpoints(), CheckpointRequest((Want(h, 0),)), *self._junk()]

    def on_second(self, msg: Message) -> list[Payload]:
        return [*self._checkpoints(), *self._junk()]

    def on_third(self, msg: Message) -> None:
        return None

    def acked(self, peer: str, payloads: Sequence[Payload]) -> None:
        return None


# The trial.


class _Detected(Exception):
    """Ends a trial run with stop_at_detection at the first detection."""


class _Trial:
    def __init__(self, config: SimConfig, seed: str) -> None:
        self.config = config
        self.rng = random.Random(seed)
        self.log = sim_log()
        cast = _cast(config.n)
        self.network = cast.network
        self.witnesses = cast.witnesses
        self.round = 0
        self.now = float(START_TIME)
        self.outcomes: Counter[str] = Counter()
        self.initiated = self.answered = self.messages = self.bytes = 0
        self.holding = 0
        self.first_detection: int | None = None
        self.all_evidence: int | None = None
        self._floods: list[tuple[_Witness, bytes]] = []

        order = list(range(config.n))
        self.rng.shuffle(order)
        colluders = set(order[: config.colluders])
        victims = (
            set() if config.fork == "none" else set(order[config.colluders :][: config.victims])
        )
        first_honest = order[config.colluders] if config.colluders < config.n else -1
        self.nodes: list[_Node] = []
        for i, signer in enumerate(cast.signers):
            node: _Node
            if i in colluders:
                colluder = _Framer if config.fork == "none" else _Hider
                node = colluder(self, signer)
            elif config.fork == "none":
                lag = i != first_honest and self.rng.random() < 0.5
                node = _Witness(self, signer, "main", LAG_SIZE if lag else SIZE)
            elif i in victims:
                size = SIZE if config.fork == "same-size" else VICTIM_SIZE
                node = _Witness(self, signer, "fork", size)
            else:
                node = _Witness(self, signer, "main", SIZE)
            self.nodes.append(node)
        self.by_name = {node.name: node for node in self.nodes}

    def count(self, what: str) -> None:
        self.outcomes[what] += 1

    def holds_evidence(self, node: _Witness, file: bytes) -> None:
        """`node` holds its first evidence file: record it, and flood it if so configured."""
        self.holding += 1
        if self.first_detection is None:
            self.first_detection = self.round
        if self.holding == self.config.honest:
            self.all_evidence = self.round
        if self.config.flood:
            self._floods.append((node, file))
        if self.config.stop_at_detection:
            raise _Detected

    def _deliver(self, src: _Node, dst: _Node, payloads: list[Payload]) -> Message | None:
        src.seq = next_sequence(src.seq, self.now)
        msg = Message(src.name, dst.name, src.seq, int(self.now), tuple(payloads))
        signer = src.signer if self.config.sign_messages else _NoSignature()
        data = encode_message(msg, signer)  # type: ignore[arg-type]
        self.messages += 1
        self.bytes += len(data)
        if self.config.loss and self.rng.random() < self.config.loss:
            return None
        if self.config.sign_messages:
            return open_message(
                data, me=dst.name, network=self.network, guard=dst.guard, now=self.now
            )
        return _open_unsigned(data, dst.name, self.network, dst.guard, self.now)

    def _post(
        self,
        src: _Node,
        dst: _Node,
        payloads: list[Payload],
        answer: Callable[[Message], list[Payload] | None],
    ) -> tuple[bool, Message | None]:
        """`src` sends `payloads` to `dst`, which answers with answer(message) (nothing:
        no answer message). While the request or its answer is lost, a fresh message is
        sent again, EXCHANGE_ATTEMPTS times in all, as Messenger.post does.

        Returns (completed, the answer message if there was one)."""
        for _ in range(EXCHANGE_ATTEMPTS):
            request = self._deliver(src, dst, payloads)
            if request is None:
                continue
            back = answer(request)
            if not back:
                return True, None
            reply = self._deliver(dst, src, back)
            if reply is not None:
                return True, reply
        return False, None

    def _exchange(self, a: _Node, b: _Node) -> None:
        self.initiated += 1
        p1 = a.first(b)
        if p1 is None:
            self.answered += 1
            return
        reached = False

        def first(m1: Message) -> list[Payload]:
            nonlocal reached
            if not reached:
                reached = True
                self.answered += 1
            return b.on_first(m1)

        _, m2 = self._post(a, b, p1, first)
        if m2 is None:
            return
        a.acked(b.name, p1)
        p3 = a.on_second(m2)
        if not p3:
            return
        done, _ = self._post(a, b, p3, b.on_third)
        if done:
            b.acked(a.name, m2.payloads)

    def _flood(self) -> None:
        """Push each new evidence file to every other member at once, one message each,
        up to PUSH_ATTEMPTS times while it is lost."""
        while self._floods:
            node, file = self._floods.pop(0)
            for peer in self.nodes:
                if peer is node:
                    continue
                for _ in range(PUSH_ATTEMPTS):
                    self.initiated += 1
                    m = self._deliver(node, peer, [Evidence(file)])
                    if m is not None:
                        self.answered += 1
                        peer.on_third(m)
                        break

    def _converged(self) -> bool:
        return all(n.view[ORIGIN].size == SIZE for n in self.nodes if n.honest)

    def _round(self) -> None:
        members = self.network.members
        for i in self.rng.sample(range(len(self.nodes)), len(self.nodes)):
            a = self.nodes[i]
            self._exchange(a, self.by_name[choose_peer(members, a.name, self.rng).name])
            self._flood()

    def run(self) -> TrialResult:
        converged: int | None = 0 if self._converged() else None
        peak = 0
        done = False
        while self.round < self.config.max_rounds and not (
            done and self.round >= self.config.min_rounds
        ):
            self.round += 1
            self.now = START_TIME + self.round * INTERVAL
            before = self.initiated + self.answered
            try:
                self._round()
            except _Detected:
                break
            peak = max(peak, self.initiated + self.answered - before)
            if self.config.fork == "none":
                if converged is None and self._converged():
                    converged = self.round
                done = converged is not None
            else:
                done = self.all_evidence is not None
        return TrialResult(
            n=self.config.n,
            honest=self.config.honest,
            rounds=self.round,
            first_detection=self.first_detection,
            all_evidence=self.all_evidence,
            converged=converged,
            initiated=self.initiated,
            answered=self.answered,
            peak_exchanges=peak,
            messages=self.messages,
            bytes=self.bytes,
            false_evidence=self._false_evidence(),
            evidence=tuple(
                sorted(
                    {
                        f
                        for n in self.nodes
                        if isinstance(n, _Witness)
                        for f, _ in n.evidence.values()
                    }
                )
            ),
            outcomes=tuple(sorted(self.outcomes.items())),
        )

    def _false_evidence(self) -> int:
        """Evidence files held by honest witnesses that are not genuine proof of the real fork.

        With an honest log (fork="none") every held file is false evidence.
        """
        genuine = frozenset() if self.config.fork == "none" else _fork_fingerprints()
        verdict: dict[bytes, bool] = {}
        false = 0
        for node in self.nodes:
            if not isinstance(node, _Witness):
                continue
            for fp, (file, _) in node.evidence.items():
                if file not in verdict:
                    try:
                        real = verify_evidence(file, [self.log.verifier]).fingerprint
                    except EvidenceError:
                        real = ""
                    verdict[file] = real == fp and real in genuine
                false += not verdict[file]
        return false


def run_trial(config: SimConfig, trial: int) -> TrialResult:
    """Run trial number `trial` of `config`; the same (config, trial) always gives the same result,
    with or without message signatures."""
    return _Trial(config, f"{config.label()}/{trial}").run()
