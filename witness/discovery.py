"""GET /witness.v0.json: what a log operator or relying party needs to use this witness.

    {
      "name": "example.com/witness",
      "submission_url": "https://w.example/add-checkpoint",
      "monitoring_url": "https://w.example/",
      "verifier_keys": [
        {"vkey": "example.com/witness+1234abcd+BA...", "type": "cosignature/v1",
         "status": "current"},
        {"vkey": "example.com/witness+9876fedc+BA...", "type": "cosignature/v1",
         "status": "previous", "until": "2026-12-01T00:00:00Z"}
      ],
      "software": {"name": "witnessnet", "version": "0.1.0"}
    }

`monitoring_url` is the prefix of `<hex sha256(origin)>/checkpoint`. The keys are
the ones cosigning now: during a rotation window both, current first; the
previous key's entry says when it stops (docs/witness.md, "Key rotation").
URLs are built from the request's own base URL unless the caller passes one.
"""

from __future__ import annotations

import datetime
import importlib.metadata
from typing import Any

from witness.keyring import KeyRing

COSIGNATURE_V1 = "cosignature/v1"


def software_version() -> str:
    try:
        return importlib.metadata.version("witnessnet")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _rfc3339(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def discovery_document(name: str, base_url: str, keyring: KeyRing) -> dict[str, Any]:
    """The JSON object served at /witness.v0.json; `base_url` ends with '/'."""
    keys: list[dict[str, Any]] = []
    for signer in keyring.active():
        entry: dict[str, Any] = {"vkey": signer.vkey(), "type": COSIGNATURE_V1}
        if signer is keyring.current:
            entry["status"] = "current"
        else:
            entry["status"] = "previous"
            entry["until"] = _rfc3339(keyring.previous_until)
        keys.append(entry)
    return {
        "name": name,
        "submission_url": base_url + "add-checkpoint",
        "monitoring_url": base_url,
        "verifier_keys": keys,
        "software": {"name": "witnessnet", "version": software_version()},
    }
