"""The pure add-checkpoint protocol: body parser, request verification, decision."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vectors import litewitness_vkey, load
from tests.witness.helpers import ToyLog
from tlog.keys import parse_vkey
from tlog.note import Verifier
from witness.decide import (
    MAX_PROOF_LINES,
    Accept,
    AddCheckpointRequest,
    LogState,
    Reason,
    Reject,
    Verified,
    decide,
    parse_request,
    verify_request,
)
from witness.errors import MalformedRequestError

LOG = ToyLog("example.com/decide", 40, fork_at=20)
OTHER = ToyLog("example.com/other", 4)
H = base64.b64encode(bytes(32))


def trusted(*logs: ToyLog):
    keys = {log.origin: [parse_vkey(log.vkey)] for log in logs}
    return lambda origin: keys.get(origin)


def verified(log: ToyLog, old: int, size: int, *, forked: bool = False) -> Verified:
    v = verify_request(log.request(old, size, forked=forked), trusted(log))
    assert isinstance(v, Verified), v
    return v


def state(log: ToyLog, size: int, *, forked: bool = False) -> LogState:
    return LogState(log.origin, size, log.root(size, forked=forked), log.checkpoint(size), 1.0)


# --- parse_request -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vector", "section", "old", "proof_lines"),
    [
        ("monkeys-consistency-5-to-8.txt", "add-checkpoint-request", 5, 4),
        ("c2sp-spec-examples.txt", "add-checkpoint-request-example", 20852014, 4),
        ("litewitness-add-checkpoint-sequence.txt", "request-1", 0, 0),
        ("litewitness-add-checkpoint-sequence.txt", "request-8", 3, 4),
    ],
)
def test_parse_vectors(vector: str, section: str, old: int, proof_lines: int) -> None:
    body = load(vector)[section]
    request = parse_request(body)
    assert request.old_size == old
    assert len(request.proof) == proof_lines
    assert request.note.startswith(body.split(b"\n\n", 1)[1][:20])
    assert request.to_bytes() == body


NOTE = LOG.checkpoint(3)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "no empty line"),
        (b"old 1\n" + NOTE, "line 2: proof hash"),
        (b"old 1\n\n", "no checkpoint"),
        (b"new 1\n\n" + NOTE, "want 'old <size>'"),
        (b"old  1\n\n" + NOTE, "old size"),
        (b"old 01\n\n" + NOTE, "leading zeros"),
        (b"old -1\n\n" + NOTE, "old size"),
        (b"old 1 \n\n" + NOTE, "old size"),
        (b"old 1\r\n\r\n" + NOTE, "old size"),
        (b"old 9223372036854775808\n\n" + NOTE, "exceeds 2"),
        (b"old \xc3\xa9\n\n" + NOTE, "non-ASCII"),
        (b"old 1\n" + H[:-4] + b"\n\n" + NOTE, "line 2: proof hash"),
        (b"old 1\n" + H + b"\n" + H + b"x\n\n" + NOTE, "line 3: proof hash"),
        (b"old 1\n" + base64.b64encode(bytes(31)) + b"\n\n" + NOTE, "31 bytes"),
        (b"old 1\n" + H.replace(b"=", b"") + b"\n\n" + NOTE, "base64"),
        (b"old 1\n" + b"\n".join([H] * (MAX_PROOF_LINES + 1)) + b"\n\n" + NOTE, "at most 63"),
    ],
)
def test_parse_malformed(body: bytes, message: str) -> None:
    with pytest.raises(MalformedRequestError, match=message):
        parse_request(body)


def test_parse_accepts_63_proof_lines() -> None:
    body = b"old 1\n" + b"\n".join([H] * MAX_PROOF_LINES) + b"\n\n" + NOTE
    assert len(parse_request(body).proof) == MAX_PROOF_LINES


@given(st.binary(max_size=400))
def test_parse_arbitrary_bytes(body: bytes) -> None:
    try:
        request = parse_request(body)
    except MalformedRequestError:
        return
    assert request.to_bytes() == body


@given(st.data())
def test_parse_and_verify_mutated_bodies(data: st.DataObject) -> None:
    """Flipped, inserted or deleted bytes of a real body: typed errors or verdicts only."""
    body = bytearray(LOG.body(3, 10))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(body) - 1))
        op = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        if op == "flip":
            body[i] ^= data.draw(st.integers(1, 255))
        elif op == "insert":
            body.insert(i, data.draw(st.integers(0, 255)))
        else:
            del body[i]
    try:
        request = parse_request(bytes(body))
    except MalformedRequestError:
        return
    assert isinstance(verify_request(request, trusted(LOG)), Verified | Reject)


# --- verify_request ------------------------------------------------------------------------


def _resigned(note: bytes, origin: str) -> bytes:
    """A note whose text names `origin` but which keeps the original signatures."""
    text, sigs = note.split(b"\n\n", 1)
    return text.replace(LOG.origin.encode(), origin.encode()) + b"\n\n" + sigs


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (LOG.request(3, 10), None),
        (OTHER.request(0, 2), Reason.UNKNOWN_LOG),
        (
            AddCheckpointRequest(0, (), _resigned(LOG.checkpoint(3), "example.com/x")),
            Reason.UNKNOWN_LOG,
        ),
        (
            AddCheckpointRequest(0, (), LOG.checkpoint(3).replace(b"\n3\n", b"\n4\n")),
            Reason.BAD_SIGNATURE,
        ),
        (
            AddCheckpointRequest(0, (), LOG.checkpoint(3).replace(b"\n3\n", b"\n03\n")),
            Reason.MALFORMED,
        ),
        (AddCheckpointRequest(0, (), LOG.checkpoint(3).replace(b"\n\n", b"\n")), Reason.MALFORMED),
        (AddCheckpointRequest(0, (), LOG.checkpoint(3)[:-1]), Reason.BAD_SIGNATURE),
        (AddCheckpointRequest(0, (), b"\xff" + LOG.checkpoint(3)), Reason.MALFORMED),
        (AddCheckpointRequest(0, (), b"example.com/decide\n3\nx\n\n- a b\n"), Reason.MALFORMED),
        (AddCheckpointRequest(5, (), LOG.checkpoint(3)), Reason.OLD_AFTER_NEW),
    ],
    ids=[
        "ok",
        "unknown-origin",
        "unknown-origin-before-signature",
        "known-key-bad-signature",
        "bad-size-line",
        "no-blank-line",
        "truncated-signature-line",
        "not-utf8",
        "bad-root",
        "old-after-new",
    ],
)
def test_verify_request(request_: AddCheckpointRequest, reason: Reason | None) -> None:
    result = verify_request(request_, trusted(LOG))
    if reason is None:
        assert isinstance(result, Verified)
    else:
        assert isinstance(result, Reject) and result.reason == reason, result


def test_verify_request_unknown_signer_only() -> None:
    """A note signed only by keys the witness does not trust for this origin: 403."""
    impostor = ToyLog(LOG.origin + "-impostor", 4)
    note = impostor.checkpoint(3).replace(
        impostor.origin.encode() + b"\n", LOG.origin.encode() + b"\n", 1
    )
    result = verify_request(AddCheckpointRequest(0, (), note), trusted(LOG))
    assert isinstance(result, Reject) and result.reason == Reason.BAD_SIGNATURE


def test_verify_request_litewitness_vectors() -> None:
    v = load("litewitness-add-checkpoint-sequence.txt")
    keys: list[Verifier] = [parse_vkey(litewitness_vkey(v))]
    origin = litewitness_vkey(v).split("+")[0]
    lookup = lambda o: keys if o == origin else None  # noqa: E731
    reasons = {}
    for name in ("request-1", "request-2", "request-3", "request-4"):
        result = verify_request(parse_request(v[name]), lookup)
        reasons[name] = result.reason if isinstance(result, Reject) else None
    assert reasons == {
        "request-1": None,
        "request-2": Reason.BAD_SIGNATURE,
        "request-3": Reason.UNKNOWN_LOG,
        "request-4": None,
    }


# --- decide --------------------------------------------------------------------------------

EMPTY = LogState(LOG.origin)


def _truncated(v: Verified) -> Verified:
    r = v.request
    return Verified(AddCheckpointRequest(r.old_size, r.proof[:-1], r.note), v.checkpoint)


def _corrupted(v: Verified) -> Verified:
    r = v.request
    proof = (bytes(32), *r.proof[1:])
    return Verified(AddCheckpointRequest(r.old_size, proof, r.note), v.checkpoint)


def _with_proof(v: Verified, proof: tuple[bytes, ...]) -> Verified:
    r = v.request
    return Verified(AddCheckpointRequest(r.old_size, proof, r.note), v.checkpoint)


@pytest.mark.parametrize(
    ("stored", "request_", "want"),
    [
        (EMPTY, verified(LOG, 0, 10), "advance"),
        (EMPTY, verified(LOG, 0, 0), "advance"),
        (EMPTY, _with_proof(verified(LOG, 0, 10), (bytes(32),)), Reason.BAD_PROOF),
        (EMPTY, verified(LOG, 3, 10), Reason.CONFLICT),
        (state(LOG, 0), verified(LOG, 0, 0), "same"),
        (state(LOG, 0), verified(LOG, 0, 10), "advance"),
        (LogState(LOG.origin, 0, bytes(32), b"", 1.0), verified(LOG, 0, 0), Reason.FORK),
        (state(LOG, 3), verified(LOG, 3, 10), "advance"),
        (state(LOG, 3), verified(LOG, 0, 10), Reason.CONFLICT),
        (state(LOG, 3), verified(LOG, 4, 10), Reason.CONFLICT),
        (state(LOG, 3), _truncated(verified(LOG, 3, 10)), Reason.BAD_PROOF),
        (state(LOG, 3), _corrupted(verified(LOG, 3, 10)), Reason.BAD_PROOF),
        (state(LOG, 3), _with_proof(verified(LOG, 3, 10), ()), Reason.BAD_PROOF),
        (state(LOG, 10), verified(LOG, 10, 10), "same"),
        (state(LOG, 10), _with_proof(verified(LOG, 10, 10), (bytes(32),)), Reason.BAD_PROOF),
        (state(LOG, 30), verified(LOG, 30, 30, forked=True), Reason.FORK),
        (state(LOG, 25), verified(LOG, 25, 30, forked=True), Reason.BAD_PROOF),
        (state(LOG, 15), verified(LOG, 15, 30, forked=True), "advance"),
        (state(LOG, 20), verified(LOG, 20, 20, forked=True), "same"),
    ],
)
def test_decide(stored: LogState, request_: Verified, want: str | Reason) -> None:
    result = decide(stored, request_, now=5.0)
    if isinstance(want, Reason):
        assert isinstance(result, Reject) and result.reason == want, result
        if want.status == 409:
            assert result.size == stored.size
        return
    assert isinstance(result, Accept), result
    cp = request_.checkpoint
    if want == "same":
        assert result.advance is None and result.state == stored
        return
    assert result.state == LogState(cp.origin, cp.size, cp.root, request_.request.note, 5.0)
    assert result.advance is not None
    assert (result.advance.old_size, result.advance.new_size) == (stored.size, cp.size)
    assert result.advance.proof == request_.request.proof


def test_decide_rejects_state_of_another_log() -> None:
    with pytest.raises(ValueError, match="used for a checkpoint of"):
        decide(LogState(OTHER.origin), verified(LOG, 0, 3), 0.0)


def _consistent(a: tuple[int, bool], b: tuple[int, bool]) -> bool:
    """Whether two (size, forked) checkpoints of LOG are prefixes of one another."""
    (n, fa), (_, fb) = sorted([a, b])
    return fa == fb or n <= LOG.fork_at  # type: ignore[operator]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 40),  # old
            st.integers(0, 40),  # size
            st.booleans(),  # forked
            st.sampled_from(["proof", "proof", "truncated", "empty"]),
        ),
        max_size=30,
    )
)
def test_decide_never_cosigns_inconsistent_checkpoints(requests: list) -> None:
    """Whatever arrives, every accepted checkpoint is consistent with every other, and
    the stored size never goes down."""
    current = EMPTY
    accepted: list[tuple[int, bool]] = []
    for old, size, forked, proof in requests:
        old = min(old, size)
        if proof == "proof" and old and current.size <= size:
            old = current.size  # mostly well-formed requests, so that the state advances
        v = verified(LOG, old, size, forked=forked)
        if proof == "truncated" and v.request.proof:
            v = _truncated(v)
        elif proof == "empty":
            v = _with_proof(v, ())
        result = decide(current, v, 0.0)
        if isinstance(result, Accept):
            accepted.append((size, forked and size > LOG.fork_at))  # type: ignore[operator]
            assert result.state.size >= current.size
            current = result.state
    for i, a in enumerate(accepted):
        for b in accepted[i + 1 :]:
            assert _consistent(a, b), (a, b, accepted)
