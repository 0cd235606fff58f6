"""`witnessnet monitor scan` against real logs served on 127.0.0.1.

The planted log holds 10,005 entries (witnessnet releases, firmware manifests,
key bindings, Go checksum records) with five violations planted among them;
the scan must flag exactly those, each with an inclusion proof that verifies
against the log-signed checkpoint in the finding, and nothing else.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

from tests.monitor.helpers import (
    LOG_KEY,
    ORIGIN,
    PlantedLog,
    findings,
    monitor_config,
    scan,
    static_server,
)
from tlog.checkpoint import open_checkpoint
from tlog.merkle import RFC6962, verify_inclusion
from tlog.tiles import decode_entry_bundle, encode_entry_bundle
from witnessnet.demo.procs import log_server


def check_proof(finding: dict) -> None:
    """The finding's entry is at its index in the tree of its log-signed checkpoint."""
    doc = finding["finding"]
    checkpoint = open_checkpoint(doc["checkpoint"], [LOG_KEY.verifier()]).checkpoint
    proof = [base64.b64decode(h) for h in doc["inclusion_proof"]]
    leaf = RFC6962.leaf(base64.b64decode(doc["entry"]))
    verify_inclusion(leaf, doc["index"], checkpoint.size, proof, checkpoint.root)


async def test_planted_violations_flagged_exactly(
    tmp_path: Path, planted: PlantedLog, planted_dir: Path
) -> None:
    key_file = planted_dir.parent / "log.key"
    async with log_server(planted_dir, key_file, ORIGIN) as log:
        config = monitor_config(tmp_path, log.url)
        first = await scan(config)
        second = await scan(config)
    assert first.returncode == 1, first.stderr.decode()[-2000:]
    (line,) = first.stdout.decode().splitlines()
    assert json.loads(line) == {
        "log": "test", "start": 0, "end": len(planted.entries), "size": len(planted.entries),
        "findings": 5, "error": None,
    }  # fmt: skip
    alerts = findings(tmp_path)
    assert {(a["kind"], a["details"]["index"]) for a in alerts} == set(planted.planted)
    assert len(alerts) == len(planted.planted)
    for alert in alerts:
        check_proof(alert)
        assert alert["class"] == ("warn" if alert["kind"] == "malformed-entry" else "page")
    # A second scan finds the log unchanged: nothing checked again, nothing new.
    assert second.returncode == 0, second.stderr.decode()[-2000:]
    assert json.loads(second.stdout)["start"] == len(planted.entries)
    assert len(findings(tmp_path)) == len(planted.planted)


async def test_served_entries_that_do_not_hash_to_the_root(
    tmp_path: Path, planted_dir: Path
) -> None:
    tampered = tmp_path / "tampered"
    shutil.copytree(planted_dir, tampered)
    bundle = tampered / "tile" / "entries" / "017"
    entries = decode_entry_bundle(bundle.read_bytes(), 256)
    entries[100] = entries[100].replace(b"1.", b"7.", 1)
    bundle.write_bytes(encode_entry_bundle(entries))
    async with static_server(tampered) as url:
        config = monitor_config(tmp_path / "mon", url, claims=(), batch_size=1024)
        result = await scan(config)
        again = await scan(config)
    assert result.returncode == 1, result.stderr.decode()[-2000:]
    (alert,) = findings(tmp_path / "mon")
    assert alert["kind"] == "integrity"
    assert alert["finding"]["problem"] == "root-mismatch"
    # The cursor stops before the batch holding the bad entry (17 * 256 + 100 = 4452).
    assert json.loads(result.stdout)["end"] == 4096
    assert again.returncode == 1 and len(findings(tmp_path / "mon")) == 1
