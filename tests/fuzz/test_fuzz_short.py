"""The fuzz targets (fuzz/): a short atheris run of each, and a replay of every seed.

The replay needs no atheris: every checked-in seed (including inputs that once
crashed a parser) must be accepted or rejected with a typed error. The short run
is the CI slice of the campaign in docs/fuzzing.md: each target for a few seconds,
zero crashes, and executions actually happened.
"""

from __future__ import annotations

import importlib.util
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from fuzz.run import CORPUS, Result, parse_output, run_target
from fuzz.seeds import SEEDS
from fuzz.targets import TARGETS, Target, run_one

SECONDS = 2


def test_every_target_has_a_seed_corpus_and_a_seed_builder() -> None:
    assert set(SEEDS) == set(TARGETS)
    for name in TARGETS:
        assert any((CORPUS / name).iterdir()), f"fuzz/corpus/{name} is empty"


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_seeds_replay_without_untyped_exceptions(name: str) -> None:
    target = TARGETS[name]
    outcomes = [run_one(target, p.read_bytes()) for p in sorted((CORPUS / name).iterdir())]
    assert outcomes


def test_a_seed_of_each_target_gets_past_the_parser() -> None:
    # Seeds that all fail the first check would leave the fuzzer at the front door.
    for name, target in TARGETS.items():
        accepted = [run_one(target, p.read_bytes()) for p in (CORPUS / name).iterdir()]
        assert any(accepted), f"no seed of {name} is accepted"


def test_untyped_exception_is_a_crash() -> None:
    bad = Target("bad", lambda data: data[10])
    with pytest.raises(IndexError):
        run_one(bad, b"")


def test_runner_reads_a_crash_report() -> None:
    output = (
        "#4096\tpulse  cov: 12 ft: 20 corp: 3/10b exec/s: 2048 rss: 50Mb\n"
        " === Uncaught Python exception: ===\nIndexError: boom\n"
        "Traceback (most recent call last):\n"
        "==1== ERROR: libFuzzer: fuzz target exited\n"
        "artifact_prefix='w/'; Test unit written to w/crash-abc\n"
    )
    r = parse_output("note", 1.0, output, 1)
    assert (r.crashes, r.error, r.artifacts) == (1, "IndexError: boom", ("w/crash-abc",))
    assert (r.executions, r.coverage) == (4096, 12)


atheris_missing = importlib.util.find_spec("atheris") is None


@pytest.fixture(scope="module")
def short_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """Every target fuzzed for SECONDS, as many at once as there are CPUs (startup dominates)."""
    if atheris_missing:
        pytest.skip("atheris is not installed: pip install -e '.[fuzz]' (./dev does)")
    work = tmp_path_factory.mktemp("fuzz")
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        runs = {name: pool.submit(run_target, name, SECONDS, work) for name in TARGETS}
        return {name: run.result() for name, run in runs.items()}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_short_fuzz_run_finds_no_crash(name: str, short_runs: dict[str, Result]) -> None:
    r = short_runs[name]
    assert r.crashes == 0, f"{name} crashed: {r.error} (input: {r.artifacts})"
    assert r.returncode == 0
    assert r.executions > 0
    assert r.coverage > 0
