"""The planted 10,005-entry reference log, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.monitor.helpers import PlantedLog, build_log, planted_log


@pytest.fixture(scope="session")
def planted() -> PlantedLog:
    return planted_log()


@pytest.fixture(scope="session")
def planted_dir(tmp_path_factory: pytest.TempPathFactory, planted: PlantedLog) -> Path:
    """A log directory (and its key file beside it) holding the planted log."""
    directory = tmp_path_factory.mktemp("planted") / "log"
    build_log(directory, planted.entries)
    return directory
