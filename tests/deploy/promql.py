"""The metric names that PromQL expressions in deploy/ and dashboards/ ask for.

Not a PromQL parser: it drops what cannot be a metric name (strings, label matchers, range
and subquery brackets, grouping label lists, Grafana variables, numbers, durations) and keeps
the identifiers that are not functions or keywords. Good enough for our own expressions,
which the tests also check against a real Prometheus.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules" / "witnessnet.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "rules" / "witnessnet.test.yml"
SCRAPE_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARDS = ROOT / "dashboards"

KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left"}
KEYWORDS |= {"group_right", "offset", "bool", "inf", "nan", "atan2", "start", "end"}
_DROP = [
    r'"(?:[^"\\]|\\.)*"',  # strings (label values)
    r"'(?:[^'\\]|\\.)*'",
    r"`[^`]*`",
    r"\{[^}]*\}",  # label matchers
    r"\[[^\]]*\]",  # ranges and subqueries
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",  # label lists
    r"\$\{[^}]*\}|\$\w+",  # Grafana variables
    r",\s*[A-Za-z_]\w*\s*\)\s*$",  # the label of a Grafana label_values(metric, label)
]
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """Metric names in one PromQL expression."""
    for pattern in _DROP:
        expr = re.sub(pattern, " ", expr)
    names = set()
    for m in _IDENT.finditer(expr):
        before = expr[: m.start()].rstrip()
        after = expr[m.end() :].lstrip()
        if after.startswith("(") or m.group().lower() in KEYWORDS:
            continue  # a function or aggregation, or a keyword
        if before and (before[-1].isdigit() or before[-1] == "."):
            continue  # the unit of a number like 5m, or an exponent
        names.add(m.group())
    return names


def alert_rules() -> list[dict]:
    """Every rule of deploy/prometheus/rules/witnessnet.yml."""
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def rule_exprs() -> dict[str, str]:
    return {rule["alert"]: rule["expr"] for rule in alert_rules()}


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def _exprs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "datasource":
            return  # a datasource variable: its query is a plugin name
        for key, value in node.items():
            if key in ("expr", "query") and isinstance(value, str):
                yield value
            else:
                yield from _exprs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _exprs(item)


def dashboard_exprs() -> dict[str, list[str]]:
    """The PromQL of every panel target and template variable, by dashboard file name."""
    return {p.name: list(_exprs(json.loads(p.read_text()))) for p in dashboard_files()}


def named_metrics() -> dict[str, set[str]]:
    """Every metric name the rules and dashboards use, with where each is used."""
    where: dict[str, set[str]] = {}
    for alert, expr in rule_exprs().items():
        for name in metric_names(expr):
            where.setdefault(name, set()).add(f"rule {alert}")
    for file, exprs in dashboard_exprs().items():
        for expr in exprs:
            for name in metric_names(expr):
                where.setdefault(name, set()).add(f"dashboard {file}")
    return where
