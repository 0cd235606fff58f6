"""The operator and relying-party guides only show `witnessnet` commands and flags that
exist: every command line in their code blocks is checked against the real `--help`."""

from __future__ import annotations

import functools
import re
import subprocess
import sys

import pytest

from tests.deploy.promql import ROOT

GUIDES = [ROOT / "docs" / "operator-guide.md", ROOT / "docs" / "relying-party-guide.md"]


def command_lines(text: str) -> list[list[str]]:
    """The words after `witnessnet` of each command in the fenced code blocks."""
    blocks = re.findall(r"^ *```[a-z]*\n(.*?)^ *```", text, re.MULTILINE | re.DOTALL)
    out = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0]
            words = line.split()
            for i, word in enumerate(words):
                # the CLI, installed or as the container image's entrypoint
                if word in ("witnessnet", "witnessnet:local") or word.endswith("/bin/witnessnet"):
                    rest = words[i + 1 :]
                    if rest and re.fullmatch(r"[a-z]+", rest[0]):
                        out.append(rest)
    return out


@functools.cache
def help_text(*command: str) -> str | None:
    done = subprocess.run(
        [sys.executable, "-m", "witnessnet", *command, "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return done.stdout if done.returncode == 0 else None


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_guide_commands_exist(guide) -> None:
    commands = command_lines(guide.read_text())
    assert commands, guide.name
    for words in commands:
        command = [words[0]]
        if len(words) > 1 and re.fullmatch(r"[a-z]+", words[1]) and help_text(*words[:2]):
            command = words[:2]
        text = help_text(*command)
        assert text is not None, f"{guide.name}: witnessnet {' '.join(command)} does not exist"
        for word in words:
            if word.startswith("--"):
                flag = word.split("=", 1)[0]
                assert re.search(rf"{re.escape(flag)}\b", text), (
                    f"{guide.name}: witnessnet {' '.join(command)} has no {flag}"
                )


def anchors(path) -> set[str]:
    """GitHub's anchors for the Markdown headings of `path`."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_guide_links_resolve(guide) -> None:
    for target in re.findall(r"\]\(([^)\s]+)\)", guide.read_text()):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        path = (guide.parent / file) if file else guide
        assert path.is_file(), f"{guide.name}: {target}"
        if anchor:
            assert anchor in anchors(path), f"{guide.name}: {target}"
