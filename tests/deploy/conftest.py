"""Fixtures of the deploy tests: Debian's prometheus and promtool, installed on first use."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

import pytest

from tests.deploy.promql import ROOT

INSTALL = ROOT / "tests" / "setup" / "install-prometheus.sh"


@dataclass(frozen=True)
class PrometheusTools:
    prometheus: str
    promtool: str


@pytest.fixture(scope="session")
def prometheus_tools() -> PrometheusTools:
    """prometheus and promtool, installed by tests/setup/install-prometheus.sh if missing."""
    done = subprocess.run([str(INSTALL)], capture_output=True, text=True, timeout=1200, check=False)
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if done.returncode != 0 or prometheus is None or promtool is None:
        pytest.fail(f"{INSTALL} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return PrometheusTools(prometheus, promtool)
