"""The CT monitor: watch lists, CT claims, configuration, and a scan of a local CT log.

End to end: the reference log serves the RFC 6962 API (`log serve --ct-key`)
over certificates and precertificates, a few planted for watched names among
decoys that look alike; `witnessnet monitor scan` must report exactly the
planted ones, each with an inclusion proof that verifies against the STH.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from monitor.claims import CLAIM_TYPES
from monitor.claims import ct as ct_claims
from monitor.config import parse_config
from monitor.errors import ConfigError, MalformedClaimError
from monitor.rules import WATCHED, Remembered, Rules, check_entry
from monitor.watchlist import WatchList, normalise, parse_watch_list
from tests.monitor.helpers import findings, scan, static_server
from tests.tlog.ct.helpers import (
    CTEntry,
    ct_signer,
    precert_entry,
    write_ct_key,
    write_static_ct,
    x509_entry,
)
from tlog.checkpoint import open_checkpoint
from tlog.ct.leaf import X509_ENTRY, TimestampedEntry, encode_leaf
from tlog.keys import generate_signer
from tlog.merkle import RFC6962, verify_inclusion
from witnessnet.commands.key import write_key_file
from witnessnet.demo.procs import log_server

ORIGIN = "ct.test/monitor"
WATCH = parse_watch_list(["www.bank.test", ".example.com", "# a comment", ""], "test")


@pytest.mark.parametrize(
    ("name", "hit"),
    [
        ("www.bank.test", "www.bank.test"),
        ("WWW.Bank.Test.", "www.bank.test"),
        ("*.bank.test", "www.bank.test"),
        ("bank.test", None),
        ("a.www.bank.test", None),
        ("*.www.bank.test", None),
        ("example.com", ".example.com"),
        ("a.b.example.com", ".example.com"),
        ("*.example.com", ".example.com"),
        ("*.eu.example.com", ".example.com"),
        ("*.com", ".example.com"),
        ("*.org", None),
        ("notexample.com", None),
        ("example.com.evil.test", None),
        ("example.co", None),
    ],
)
def test_watch_list_matching(name: str, hit: str | None) -> None:
    assert WATCH.match(name) == hit


def test_watch_list_errors_and_idna() -> None:
    with pytest.raises(ConfigError, match="entry 2"):
        parse_watch_list(["ok.test", "bad name.test"], "list")
    with pytest.raises(ConfigError, match="not a domain"):
        parse_watch_list([".-x.test"], "list")
    idn = parse_watch_list(["bücher.example"], "list")
    assert idn.match("xn--bcher-kva.example") == "xn--bcher-kva.example"
    assert not WatchList()


labels = st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)


@given(st.lists(labels, min_size=1, max_size=4), st.lists(labels, min_size=1, max_size=3))
def test_subtree_watches_match_exactly_the_names_below(base: list[str], extra: list[str]) -> None:
    domain = ".".join(base)
    watch = parse_watch_list(["." + domain], "prop")
    below = ".".join([*extra, domain])
    assert watch.match(below) == "." + domain
    assert watch.match("*." + domain) == "." + domain
    assert watch.match(".".join(extra) + "x" + domain) is None
    # A name is watched exactly when it is the domain or ends in "." + domain.
    assert (watch.match(normalise(below)) is not None) == (
        below == domain or below.endswith("." + domain)
    )


def test_ct_claims_of_certificates_and_precertificates() -> None:
    (x,) = ct_claims.parse(x509_entry(1, ["a.test", "B.test"], cn="a.test").leaf)
    assert ct_claims.names(x) == ["a.test", "b.test"]
    assert x.fields["entry_type"] == "certificate" and x.subject == "a.test"
    (p,) = ct_claims.parse(precert_entry(2, ["*.c.test"]).leaf)
    assert p.fields["entry_type"] == "precertificate" and "issuer_key_hash" in p.fields
    assert ct_claims.sniff(x509_entry(3, ["d.test"]).leaf)
    bad = encode_leaf(TimestampedEntry(1, X509_ENTRY, b"\x30\x03\x02\x01\x01"))
    with pytest.raises(MalformedClaimError, match="CT entry"):
        ct_claims.parse(bad)


class NoMemory:
    """The watch rule remembers nothing."""

    def recall(self, kind: str, key: str) -> Remembered | None:
        raise AssertionError("the watch rule reads no memory")

    def remember(self, kind: str, key: str, item: Remembered) -> None:
        raise AssertionError("the watch rule writes no memory")


def test_rule_reports_watched_names_only() -> None:
    types = [CLAIM_TYPES["ct"]]
    rules = Rules(domains=WATCH)
    hit = check_entry(precert_entry(4, ["shop.example.com"]).leaf, 7, types, rules, NoMemory())
    assert [v.rule for v in hit] == [WATCHED]
    assert "precertificate" in hit[0].reason and ".example.com" in hit[0].reason
    miss = check_entry(x509_entry(5, ["shop.example.org"]).leaf, 8, types, rules, NoMemory())
    assert miss == []


def _config(directory: Path, url: str, vkey: str, kind: str, batch: int = 256) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "watch.txt").write_text("# certspotter style\n.example.com\n")
    path = directory / "monitor.toml"
    path.write_text(
        f"""\
state = "state.db"
batch_size = {batch}
timeout = 5
watch_domains = ["www.bank.test"]
watch_list = "watch.txt"

[[logs]]
name = "ct"
kind = "{kind}"
origin = "{ORIGIN}"
vkey = "{vkey}"
url = "{url}"
claims = ["ct"]

[[sinks]]
type = "jsonl"
path = "findings.jsonl"
"""
    )
    return path


def test_config_kind_and_watch_list(tmp_path: Path) -> None:
    vkey = ct_signer(ORIGIN).vkey()
    path = _config(tmp_path, "http://127.0.0.1:1", vkey, "ct")
    config = parse_config(path.read_text(), path)
    assert config.logs[0].kind == "ct"
    assert config.rules.domains == parse_watch_list(["www.bank.test", ".example.com"], "x")
    text = path.read_text()
    bad_kind = text.replace('kind = "ct"', 'kind = "sigsum"')
    with pytest.raises(ConfigError, match=r"logs\[0\].kind.*line 9"):
        parse_config(bad_kind, path)
    ed = generate_signer(ORIGIN).vkey()
    with pytest.raises(ConfigError, match="0x05"):
        parse_config(text.replace(vkey, ed), path)
    with pytest.raises(ConfigError, match="origin"):
        parse_config(text.replace(f'origin = "{ORIGIN}"', 'origin = "other"'), path)
    with pytest.raises(ConfigError, match="watch_domains entry 1"):
        parse_config(text.replace('["www.bank.test"]', '["bad name"]'), path)


def planted_entries() -> tuple[list[CTEntry], dict[int, str]]:
    """600 certificates; the planted ones (index -> name) among look-alike decoys."""
    decoys = ["bank.test", "a.www.bank.test", "*.www.bank.test", "notexample.com",
              "example.com.evil.test", "example.co", "*.org"]  # fmt: skip
    log = [
        precert_entry(i, [f"h{i}.test"]) if i % 4 == 0 else x509_entry(i, [f"h{i}.test"])
        for i in range(600)
    ]
    for i, name in enumerate(decoys):
        log[50 + 60 * i] = x509_entry(10_000 + i, [name, f"d{i}.test"])
    planted = {
        37: ("x509", ["example.com"], None),
        255: ("precert", ["api.eu.example.com"], None),
        256: ("x509", ["*.bank.test"], None),
        400: ("x509", [], "WWW.BANK.TEST"),
        599: ("precert", ["z.test", "*.example.com"], None),
    }
    for index, (kind, names, cn) in planted.items():
        make = precert_entry if kind == "precert" else x509_entry
        log[index] = make(20_000 + index, names, cn)
    return log, {i: (n[1] or [n[2]])[0] for i, n in planted.items()}


def check_findings(directory: Path, entries: list[CTEntry], want: dict[int, str]) -> None:
    verifier = ct_signer(ORIGIN).verifier()
    got = {}
    for alert in findings(directory):
        finding = alert["finding"]
        assert finding["rule"] == WATCHED
        index = finding["index"]
        entry = base64.b64decode(finding["entry"])
        assert entry == entries[index].leaf
        cp = open_checkpoint(finding["checkpoint"], [verifier]).checkpoint
        proof = [base64.b64decode(h) for h in finding["inclusion_proof"]]
        verify_inclusion(RFC6962.leaf(entry), index, cp.size, proof, cp.root)
        got[index] = finding["claim"]["subject"]
    assert got == {i: n.lower() for i, n in want.items()}


async def test_monitor_finds_exactly_the_planted_certificates_in_a_ct_api_log(
    tmp_path: Path,
) -> None:
    entries, want = planted_entries()
    write_key_file(tmp_path / "log.key", generate_signer(ORIGIN))
    write_ct_key(tmp_path / "ct.pem")
    args = ("--ct-key", str(tmp_path / "ct.pem"), "--ct-max-batch", "50",
            "--batch-interval", "0.05")  # fmt: skip
    async with (
        log_server(tmp_path / "log", tmp_path / "log.key", ORIGIN, args) as log,
        httpx.AsyncClient() as http,
    ):
        for e in entries[:300]:
            assert (await http.post(f"{log.url}/add", content=e.leaf)).is_success
        config = _config(tmp_path / "mon", log.url, log.listening["ct_vkey"], "ct", batch=256)
        first = await scan(config)
        assert first.returncode == 1, first.stderr.decode()[-2000:]
        for e in entries[300:]:
            assert (await http.post(f"{log.url}/add", content=e.leaf)).is_success
        second = await scan(config)
        assert second.returncode == 1, second.stderr.decode()[-2000:]
        lines = [json.loads(line) for line in second.stdout.splitlines()]
        assert lines[0]["start"] == 300 and lines[0]["end"] == 600
        assert (await scan(config)).returncode == 0
    check_findings(tmp_path / "mon", entries, want)


async def test_monitor_follows_a_static_ct_log(tmp_path: Path) -> None:
    entries, want = planted_entries()
    signer = ct_signer(ORIGIN)
    write_static_ct(tmp_path / "static", signer, entries[:300])
    async with static_server(tmp_path / "static") as url:
        config = _config(tmp_path / "mon", url, signer.vkey(), "static-ct", batch=512)
        assert (await scan(config)).returncode == 1
        write_static_ct(tmp_path / "static", signer, entries)
        result = await scan(config)
        assert result.returncode == 1, result.stderr.decode()[-2000:]
    check_findings(tmp_path / "mon", entries, want)


async def test_a_ct_log_whose_entries_do_not_match_its_head_is_an_integrity_finding(
    tmp_path: Path,
) -> None:
    entries, _ = planted_entries()
    signer = ct_signer(ORIGIN)
    directory = tmp_path / "static"
    write_static_ct(directory, signer, entries[:300])
    # Swap one entry in the data tiles after the tree was signed: the log lies.
    forged = list(entries[:300])
    forged[10] = x509_entry(99_999, ["forged.test"])
    tree_files = {p: p.read_bytes() for p in directory.rglob("*") if p.is_file()}
    write_static_ct(directory, signer, forged)
    for p, data in tree_files.items():
        if "data" not in p.parts:
            p.write_bytes(data)
    async with static_server(directory) as url:
        config = _config(tmp_path / "mon", url, signer.vkey(), "static-ct")
        result = await scan(config)
        assert result.returncode == 1, result.stderr.decode()[-2000:]
        await trio.sleep(0)
    (alert,) = findings(tmp_path / "mon")
    assert alert["finding"]["problem"] == "root-mismatch"
