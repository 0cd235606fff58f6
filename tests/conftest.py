"""Shared fixtures: byte-exact test vectors from ../shared/vectors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.vectors import VECTORS_DIR, VectorFile, load


@pytest.fixture(scope="session")
def vectors() -> Callable[[str], VectorFile]:
    """Load a vector file by name: `vectors("sumdb-checkpoints.txt")["vkey"]` is bytes."""
    if not VECTORS_DIR.is_dir():
        pytest.fail(f"test vectors not found at {VECTORS_DIR}")
    return load
