"""The in-memory gossip simulation (gossip.sim): small seeded runs of the real protocol code.

Structural properties only, no timings: evidence reaches every honest witness,
what honest witnesses hold is genuine proof of the real fork, colluders never
make an honest log look guilty, and no witness takes part in more than two
exchanges per round on average.
"""

from __future__ import annotations

from collections import Counter

import pytest

from gossip.evidence import Kind, verify_evidence
from gossip.sim import SIZE, SimConfig, TrialResult, run_trial, sim_log

SEEDS = range(3)


def check_structure(r: TrialResult) -> None:
    assert r.false_evidence == 0
    assert r.exchanges_per_node_round <= 2
    assert r.peak_exchanges_per_node_round <= 2
    assert r.messages_per_node_round <= 3  # at most 3 messages per exchange


def held_kinds(r: TrialResult) -> set[Kind]:
    """The kind of each evidence file held, verified independently with the log's key."""
    return {verify_evidence(f, [sim_log().verifier]).kind for f in r.evidence}


@pytest.mark.parametrize("fork", ["same-size", "sizes"])
@pytest.mark.parametrize("loss", [0.0, 0.3])
def test_evidence_reaches_every_honest_witness_without_colluders(fork: str, loss: float) -> None:
    for seed in SEEDS:
        r = run_trial(SimConfig(16, 0.0, loss, fork=fork), seed)  # type: ignore[arg-type]
        assert r.first_detection is not None and r.all_evidence is not None
        assert 1 <= r.first_detection <= r.all_evidence == r.rounds
        check_structure(r)
        want = Kind.SAME_SIZE if fork == "same-size" else Kind.INCONSISTENT_SIZES
        assert held_kinds(r) == {want}


@pytest.mark.parametrize("colluding", [0.2, 1 / 3, 0.5])
def test_colluders_hide_the_fork_but_cannot_stop_it_or_forge(colluding: float) -> None:
    for seed in SEEDS:
        r = run_trial(SimConfig(16, colluding, 0.3), seed)
        assert r.all_evidence is not None, "honest witnesses reach each other despite colluders"
        check_structure(r)
        assert held_kinds(r) == {Kind.SAME_SIZE}
        outcomes = dict(r.outcomes)
        assert not any(k.startswith(("evidence:rejected", "unverifiable")) for k in outcomes)


def test_colluders_cannot_frame_an_honest_log() -> None:
    outcomes: Counter[str] = Counter()
    for loss in [0.0, 0.3]:
        for seed in SEEDS:
            r = run_trial(SimConfig(16, 0.5, loss, fork="none", min_rounds=15), seed)
            assert r.first_detection is None and r.evidence == () and r.false_evidence == 0
            check_structure(r)
            assert r.converged is not None, f"every honest witness reaches size {SIZE}"
            outcomes.update(dict(r.outcomes))
    assert outcomes["checkpoint:conflict"] == outcomes["evidence:proven"] == 0
    # The attacks were made, and each was refused for what it is.
    for kind in [
        "evidence:rejected:malformed",
        "evidence:rejected:not_proof",
        "evidence:suspected",
        "unverifiable:bad_signature",
        "unverifiable:unknown_log",
        "checkpoint:needproof",
    ]:
        assert outcomes[kind] > 0, kind


def test_signed_and_unsigned_message_envelopes_run_identically() -> None:
    for config in [SimConfig(16, 1 / 3, 0.3), SimConfig(16, 0.5, 0.3, fork="none", min_rounds=5)]:
        signed = run_trial(config, 7)
        unsigned = run_trial(SimConfig(**{**_fields(config), "sign_messages": False}), 7)
        assert signed == unsigned


def test_trials_are_deterministic_and_stopping_at_detection_changes_nothing_before() -> None:
    config = SimConfig(16, 0.2, 0.3, sign_messages=False)
    full = run_trial(config, 11)
    assert run_trial(config, 11) == full
    early = run_trial(SimConfig(**{**_fields(config), "stop_at_detection": True}), 11)
    assert early.first_detection == full.first_detection
    assert early.rounds == full.first_detection


def test_pushing_evidence_to_every_peer_at_once_costs_more_than_two_exchanges() -> None:
    r = run_trial(SimConfig(16, 0.0, 0.0, flood=True), 0)
    assert r.all_evidence == r.first_detection
    assert r.false_evidence == 0
    assert r.peak_exchanges_per_node_round > 2


def _fields(config: SimConfig) -> dict[str, object]:
    return {name: getattr(config, name) for name in SimConfig.__dataclass_fields__}


def test_config_is_validated() -> None:
    with pytest.raises(ValueError):
        SimConfig(16, 0.9, victims=2)
    with pytest.raises(ValueError):
        SimConfig(16, loss=1.0)
    with pytest.raises(ValueError):
        SimConfig(1)
