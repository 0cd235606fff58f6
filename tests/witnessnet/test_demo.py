"""`witnessnet demo` end to end, as a user runs it: a real subprocess, its exit status, its
summary table, the evidence files it names, and no daemon left behind."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tlog.merkle import RFC6962, verify_inclusion
from tlog.policy import parse_policy, verify_cosigned_checkpoint
from witnessnet.commands.key import load_key_file
from witnessnet.demo.attacks import MONITOR_SOURCE, unexpected_pages
from witnessnet.demo.receiver import Received
from witnessnet.demo.summary import Detection, render_table

DEMO = [sys.executable, "-m", "witnessnet", "demo"]
WITNESSES = [f"w{i}" for i in range(5)]


def processes_naming(directory: Path) -> list[int]:
    """Pids of live (not zombie) processes whose command line mentions `directory`."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(directory).encode() in cmdline and state != "Z":
            pids.append(int(proc.name))
    return pids


def demo_directory(output: str) -> Path:
    match = re.search(r"files in (\S+);", output)
    assert match, output
    return Path(match.group(1))


def summary_rows(output: str) -> dict[str, str]:
    """Each attack's row of the summary table (its lines joined), by its number."""
    table = output.split("\nSUMMARY\n", 1)[1]
    rows = {}
    for block in table.split("\n\n"):
        match = re.search(r"^(\d)\. ", block, re.M)
        if match:
            rows[match.group(1)] = block
    return rows


def test_the_demo_catches_both_attacks_with_evidence_that_verifies(tmp_path: Path) -> None:
    run = subprocess.run(
        [*DEMO, "--keep-dir", "--timeout", "100"], capture_output=True, text=True, timeout=150
    )
    out = run.stdout
    assert run.returncode == 0, out + run.stderr
    directory = demo_directory(out)
    try:
        assert not processes_naming(directory)
        assert re.search(r"checkpoint size 8 cosigned by [345] of 5 witnesses", out)
        rows = summary_rows(out)
        claim, fork = rows["1"], rows["2"]
        assert "CAUGHT" in claim and "NOT CAUGHT" not in claim
        assert re.search(r"monitor \(\+\d+\.\d s\)", claim)
        assert "unauthorised-signer" in claim
        assert "CAUGHT" in fork and "NOT CAUGHT" not in fork
        for w in WITNESSES:
            assert re.search(rf"\b{w} \(\+\d+\.\d s\)", fork), fork
        assert "pages: 5 of 5 operators" in fork
        assert "froze the log: 5 of 5" in fork
        assert "MISSED" not in out and "PROBLEM" not in out
        assert out.rstrip().splitlines()[-1].startswith("OK: both attacks were caught")

        paths = [Path(p) for p in re.findall(rf"({re.escape(str(directory))}/\S+)", out)]
        evidence = [p for p in paths if p.suffix == ".evidence"]
        findings = [p for p in paths if p.suffix == ".json"]
        assert evidence and findings and all(p.is_file() for p in paths), paths
        log_vkey = load_key_file(directory / "keys" / "log.key").vkey()
        for path in evidence:
            check = subprocess.run(
                [*DEMO[:-1], "evidence", "verify", str(path), "--log-vkey", log_vkey],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert check.returncode == 0, check.stderr
            assert check.stdout.startswith("PROOF OF")

        policy = parse_policy((directory / "monitor" / "policy.txt").read_bytes())
        publisher = load_key_file(directory / "keys" / "publisher.key").vkey()
        for path in findings:
            finding = json.loads(path.read_bytes())
            assert finding["rule"] == "unauthorised-signer"
            assert publisher not in finding["claim"]["signers"]
            cp, cosigners = verify_cosigned_checkpoint(finding["checkpoint"], policy)
            entry = base64.b64decode(finding["entry"])
            proof = [base64.b64decode(h) for h in finding["inclusion_proof"]]
            verify_inclusion(RFC6962.leaf(entry), finding["index"], cp.size, proof, cp.root)
            assert len(cosigners) >= 3
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_sigint_during_keep_running_stops_every_daemon_and_removes_the_directory() -> None:
    demo = subprocess.Popen(
        [*DEMO, "--keep-running", "--timeout", "100"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert demo.stdout is not None
    lines = []
    deadline = time.monotonic() + 150
    try:
        for line in demo.stdout:
            lines.append(line)
            if "press Ctrl-C" in line or time.monotonic() > deadline:
                break
        up = []
        for line in demo.stdout:
            lines.append(line)
            match = re.search(r"\bpid (\d+)$", line.strip())
            if match:
                up.append(int(match.group(1)))
            if line.startswith("  files"):
                break
    finally:
        if demo.poll() is None and not any("press Ctrl-C" in line for line in lines):
            demo.kill()
    output = "".join(lines)
    assert "press Ctrl-C" in output, output
    directory = demo_directory(output)
    assert len(up) == 7, output  # the log, 5 witnesses and the monitor
    assert all(Path(f"/proc/{pid}").exists() for pid in up)
    assert re.search(r"w0 +http://127\.0\.0\.1:\d+/", output)

    demo.send_signal(signal.SIGINT)
    rest, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, output + rest
    assert "stopping the network" in rest
    assert not [pid for pid in up if Path(f"/proc/{pid}").exists()]
    assert not processes_naming(directory)
    assert not directory.exists()


def test_sigint_while_daemons_start_exits_130_and_leaves_nothing_behind() -> None:
    demo = subprocess.Popen(DEMO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert demo.stdout is not None
    first = demo.stdout.readline()
    started = demo.stdout.readline()
    assert "started the log, 5 witnesses and the monitor" in started, first + started
    demo.send_signal(signal.SIGINT)
    rest, _ = demo.communicate(timeout=60)
    assert demo.returncode == 130, first + started + rest
    assert rest.rstrip().splitlines()[-1].startswith("INTERRUPTED")
    directory = demo_directory(first)
    assert not directory.exists()
    assert not processes_naming(directory)


def test_a_timeout_fails_clearly_and_leaves_nothing_behind() -> None:
    run = subprocess.run([*DEMO, "--timeout", "2"], capture_output=True, text=True, timeout=90)
    assert run.returncode == 1, run.stdout + run.stderr
    last = run.stdout.rstrip().splitlines()[-1]
    assert last.startswith("FAILED: timed out after 2 s waiting for "), run.stdout
    directory = demo_directory(run.stdout)
    assert not directory.exists()
    assert not processes_naming(directory)


@pytest.mark.parametrize("missed", [[], ["w3"], ["w0", "w3"]])
def test_the_summary_says_who_missed_an_attack(missed: list[str]) -> None:
    d = Detection("2. a fork", WITNESSES)
    d.caught_by = {w: 0.5 for w in WITNESSES if w not in missed}
    table = render_table([d])
    assert ("NOT CAUGHT" in table) == bool(missed)
    assert [m for m in WITNESSES if f"MISSED: {m}" in table] == missed
    assert d.caught == (not missed)


@pytest.mark.parametrize(
    ("source", "kind", "cls", "unexpected"),
    [
        ("w1", "split-view", "page", False),
        (MONITOR_SOURCE, "unauthorised-signer", "page", False),
        (MONITOR_SOURCE, "integrity", "page", False),
        (MONITOR_SOURCE, "rollback", "page", True),
        ("w1", "witness-equivocation", "page", True),
        ("someone", "split-view", "page", True),
        ("w1", "log-suspicion", "warn", False),
    ],
)
def test_a_page_that_no_attack_explains_is_a_false_alarm(
    source: str, kind: str, cls: str, unexpected: bool
) -> None:
    alert = {"source": source, "kind": kind, "class": cls, "summary": "s"}
    found = unexpected_pages([Received(0.0, alert)], WITNESSES)
    assert found == ([f"{source}: {kind}: s"] if unexpected else [])
