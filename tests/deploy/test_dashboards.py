"""dashboards/*.json are Grafana dashboards that load: unique uids and panel ids, every query
on the `datasource` variable, and every query naming at least one metric. That each metric
exists is checked against a real Prometheus in test_prometheus.py."""

from __future__ import annotations

import json

import pytest

from tests.deploy.promql import dashboard_exprs, dashboard_files, metric_names


def panels(board: dict) -> list[dict]:
    out = []
    for panel in board["panels"]:
        out.append(panel)
        out += panel.get("panels", [])
    return out


def test_three_dashboards_with_unique_uids() -> None:
    boards = [json.loads(p.read_text()) for p in dashboard_files()]
    assert {b["uid"] for b in boards} == {
        "witnessnet-witness",
        "witnessnet-gossip",
        "witnessnet-monitor",
    }


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.name)
def test_dashboard_is_well_formed(path) -> None:
    board = json.loads(path.read_text())
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids))
    for panel in panels(board):
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    for expr in dashboard_exprs()[path.name]:
        assert metric_names(expr), expr
