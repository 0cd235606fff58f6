"""`witnessnet monitor run` with `listen`: the status page, findings, metrics and the stall
warning, from a real daemon following a log served on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import trio
from prometheus_client.parser import text_string_to_metric_families

from monitor.findings import FORMAT
from monitor.rules import SEVERITY
from monitor.status import ERROR_KINDS
from tests.monitor.helpers import (
    EVIL,
    build_log,
    findings,
    monitor_command,
    monitor_config,
    release,
    static_server,
)
from tlog.merkle import RFC6962, verify_inclusion
from tlog.note import parse_note

METRICS = (
    "monitor_entries_checked_total",
    "monitor_findings_total",
    "monitor_log_verified_size",
    "monitor_cursor_size",
    "monitor_last_pass_timestamp_seconds",
    "monitor_pass_errors_total",
)


@asynccontextmanager
async def daemon(config: Path) -> AsyncIterator[str]:
    """`monitor run` on `config`; yields the URL it printed when listening."""
    process = await trio.lowlevel.open_process(
        monitor_command(config, "run"), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert process.stdout is not None
        line = b""
        with trio.fail_after(30):
            while not line.endswith(b"\n"):
                chunk = await process.stdout.receive_some(1)
                assert chunk, "monitor exited before listening"
                line += chunk
        ready = json.loads(line)
        assert ready["event"] == "listening"
        yield str(ready["url"])
        process.send_signal(signal.SIGTERM)
        with trio.fail_after(15):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if process.stdout is not None:
            await process.stdout.aclose()


def samples(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


async def wait_json(http: httpx.AsyncClient, url: str, ok: Any) -> Any:
    with trio.fail_after(30):
        while True:
            doc = (await http.get(url)).json()
            if ok(doc):
                return doc
            await trio.sleep(0.05)


async def test_status_page_findings_metrics_and_stall(tmp_path: Path) -> None:
    entries = [release("witnessnet", f"1.{i}.0") for i in range(300)]
    entries[123] = release("witnessnet", "9.0.0", EVIL)
    build_log(tmp_path / "log", entries)
    async with static_server(tmp_path / "log") as log_url:
        settings = (
            'poll_interval = 0.1\nlisten = "127.0.0.1:0"\nstall_after = 1\n'
            '[alerts]\nwarn_hold_seconds = 0\nlog_file = "alerts.jsonl"\n'
        )
        config = monitor_config(tmp_path / "mon", log_url, batch_size=256, settings=settings)
        async with daemon(config) as url, httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(f"{url}/healthz")).text == "ok\n"
            listed = await wait_json(http, f"{url}/findings.json", lambda d: d["total"] >= 1)
            (finding,) = listed["findings"]
            assert (finding["rule"], finding["index"]) == ("unauthorised-signer", 123)
            same = await http.get(f"{url}/findings")
            assert same.json()["total"] == 1

            download = await http.get(f"{url}{finding['url']}")
            assert download.headers["content-disposition"].startswith("attachment")
            doc = download.json()
            assert doc == finding["document"] and doc["format"] == FORMAT
            # The downloaded proof verifies the entry against the cosigned checkpoint.
            lines = parse_note(doc["checkpoint"].encode()).text.split("\n")
            size, root = int(lines[1]), base64.b64decode(lines[2])
            proof = [base64.b64decode(h) for h in doc["inclusion_proof"]]
            leaf = RFC6962.leaf(base64.b64decode(doc["entry"]))
            verify_inclusion(leaf, 123, size, proof, root)
            assert (await http.get(f"{url}/findings/99.json")).status_code == 404
            for bad in ("x", "²", "9" * 30):
                assert (await http.get(f"{url}/findings/{bad}.json")).status_code == 404
            assert len((await http.get(f"{url}/findings?limit=²")).json()["findings"]) == 1

            # The log does not grow: a log-stalled warn reaches the sink, once.
            with trio.fail_after(30):
                while not any(a["kind"] == "log-stalled" for a in findings(tmp_path / "mon")):
                    await trio.sleep(0.1)
            page = (await http.get(f"{url}/")).text
            assert "stalled at 300" in page and "unauthorised-signer" in page
            assert 'href="/findings/1.json"' in page

            m = samples((await http.get(f"{url}/metrics")).text)
            assert set(METRICS) <= set(m)
            log = (("log", "test"),)
            assert m["monitor_cursor_size"][log] == 300
            assert m["monitor_log_verified_size"][log] == 300
            assert m["monitor_entries_checked_total"][log] == 300
            assert m["monitor_last_pass_timestamp_seconds"][log] > 0
            rules = {dict(k)["rule"]: v for k, v in m["monitor_findings_total"].items()}
            assert rules == {r: (1 if r == "unauthorised-signer" else 0) for r in SEVERITY}
            kinds = {dict(k)["kind"] for k in m["monitor_pass_errors_total"]}
            assert kinds == set(ERROR_KINDS)

            # The log grows: the cursor follows.
            build_log(tmp_path / "log", [release("witnessnet", "2.0.0")])
            with trio.fail_after(30):
                while True:
                    m = samples((await http.get(f"{url}/metrics")).text)
                    if m["monitor_cursor_size"][log] == 301:
                        break
                    await trio.sleep(0.05)
            # The pass that checked it closes the stall, in the outbox too (its metrics
            # are served here as well).
            stall = (("class", "warn"), ("kind", "log-stalled"))
            with trio.fail_after(30):
                while True:
                    m = samples((await http.get(f"{url}/metrics")).text)
                    if m["witnessnet_alerts_resolved_total"].get(stall) == 1:
                        break
                    await trio.sleep(0.05)
            assert m["witnessnet_alerts_raised_total"][stall] == 1
            page = (await http.get(f"{url}/")).text
            assert "stalled at" not in page and "following" in page
    stalls = [a for a in findings(tmp_path / "mon") if a["kind"] == "log-stalled"]
    assert len(stalls) == 1 and stalls[0]["class"] == "warn"
