"""deploy/Containerfile without building it: slim Python base, non-root user, a health check
on /healthz, and an install step that works on exactly the files it copies (a wheel is built
here from those files and must hold every file of every package)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from tests.deploy.promql import ROOT

CONTAINERFILE = ROOT / "deploy" / "Containerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, current = [], ""
    for line in CONTAINERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") and not current:
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            if current.strip():
                word, _, rest = current.strip().partition(" ")
                out.append((word.upper(), rest.strip()))
            current = ""
    return out


def copied() -> list[str]:
    """The sources the image copies from the build context."""
    sources = []
    for word, args in instructions():
        if word == "COPY":
            sources += shlex.split(args)[:-1]
    return sources


def test_slim_python_base_non_root_user_and_healthcheck() -> None:
    steps = dict(instructions())
    assert steps["FROM"].split(":")[0].endswith("python") and "-slim" in steps["FROM"]
    user = [args for word, args in instructions() if word == "USER"]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert "WITNESSNET_HEALTH_URL" in steps["HEALTHCHECK"]
    assert "WITNESSNET_HEALTH_URL=http://127.0.0.1:7380/healthz" in steps["ENV"]
    assert steps["ENTRYPOINT"] == '["witnessnet"]'


def test_copies_every_package_and_nothing_ignored() -> None:
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {p.rstrip("*") for p in include["packages"]["find"]["include"]}
    assert packages <= set(copied())
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for source in copied():
        assert (ROOT / source).exists(), source
        assert source not in ignored, f"{source} is copied but .dockerignore drops it"


def test_install_step_builds_from_the_copied_files(tmp_path: Path) -> None:
    context = tmp_path / "src"
    context.mkdir()
    for source in copied():
        path = ROOT / source
        if path.is_dir():
            shutil.copytree(path, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, context / source)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path / "dist"),
         str(context)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for source in copied():
        if (context / source).is_dir():
            for f in (context / source).rglob("*"):
                if f.is_file():
                    assert str(f.relative_to(context)) in names, f"{f} is not installed"
