"""docs/threat-model.md names the test that shows each defence: every one must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_every_test_the_threat_model_cites_exists() -> None:
    text = (ROOT / "docs" / "threat-model.md").read_text()
    refs = set(re.findall(r"`([\w/]+\.py)::(\w+)`", text))
    assert len(refs) > 30
    missing = [
        f"{path}::{name}"
        for path, name in sorted(refs)
        if not re.search(
            rf"^(async )?def {name}\(", (ROOT / "tests" / path).read_text(), re.MULTILINE
        )
    ]
    assert not missing, f"docs/threat-model.md cites tests that do not exist: {missing}"
