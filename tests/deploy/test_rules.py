"""The alert rules: promtool accepts them and their unit tests pass; every alert is tested
firing and not firing, has a severity of docs/alerts.md and a runbook section that exists."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.deploy.conftest import PrometheusTools
from tests.deploy.promql import RULE_TESTS, RULES, SCRAPE_CONFIG, alert_rules, metric_names
from tests.deploy.test_guides import anchors

GUIDE = RULES.parents[3] / "docs" / "operator-guide.md"


def promtool(tools: PrometheusTools, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tools.promtool, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_promtool_check_rules(prometheus_tools: PrometheusTools) -> None:
    done = promtool(prometheus_tools, "check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_test_rules(prometheus_tools: PrometheusTools) -> None:
    done = promtool(prometheus_tools, "test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_check_scrape_config(prometheus_tools: PrometheusTools) -> None:
    done = promtool(prometheus_tools, "check", "config", str(SCRAPE_CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_test_rules_can_fail(prometheus_tools: PrometheusTools, tmp_path) -> None:
    """The unit tests notice a rule that pages at the wrong severity."""
    (tmp_path / RULES.name).write_text(RULES.read_text().replace("severity: page", "severity: x"))
    (tmp_path / RULE_TESTS.name).write_text(RULE_TESTS.read_text())
    done = promtool(prometheus_tools, "test", "rules", str(tmp_path / RULE_TESTS.name))
    assert done.returncode != 0
    assert "FAILED" in done.stdout + done.stderr


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    firing, quiet = set(), set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = {rule["alert"] for rule in alert_rules()}
    assert alerts - firing == set(), "alerts never tested firing"
    assert alerts - quiet == set(), "alerts never tested quiet"


def test_alerts_have_a_class_and_a_runbook_section() -> None:
    sections = anchors(GUIDE)
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("page", "warn"), rule["alert"]
        url = rule["annotations"]["runbook_url"]
        path, _, anchor = url.partition("#")
        assert path == "docs/operator-guide.md", rule["alert"]
        assert anchor == rule["alert"].lower() and anchor in sections, rule["alert"]


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("rate(witness_advances_total[5m])", {"witness_advances_total"}),
        ('sum by (job, instance) (x_total{a="b"}) unless on (job) y offset 15m', {"x_total", "y"}),
        ("histogram_quantile(0.99, sum by (le) (rate(h_bucket[$__rate_interval])))", {"h_bucket"}),
        ('label_values(up{job=~"witnessnet-.*"}, instance)', {"up"}),
        (
            "time() - monitor_last_pass_timestamp_seconds > 1800",
            {"monitor_last_pass_timestamp_seconds"},
        ),
    ],
)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
