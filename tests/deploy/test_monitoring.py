"""Prometheus scrape config, alert rules and the Grafana dashboard: valid, wired to each other,
and using only metric names the code really exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, ROOT, get_promql_metric_names

PROMETHEUS = DEPLOY / "prometheus"
RULES_FILE = PROMETHEUS / "rules" / "touchpoint.yml"
RULE_TESTS = PROMETHEUS / "tests" / "touchpoint_test.yml"
DASHBOARD_FILE = DEPLOY / "grafana" / "dashboards" / "touchpoint.json"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"
LAG_EXPORTER_NAMES = {
    "kafka_consumergroup_group_lag",
    "kafka_consumergroup_group_lag_seconds",
    "kafka_consumergroup_group_max_lag",
    "kafka_consumergroup_group_sum_lag",
}


def _rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(RULES_FILE.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text())
    return loaded


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return loaded


def _panels() -> list[dict[str, Any]]:
    return [panel for panel in _dashboard()["panels"] if panel["type"] != "row"]


def _doc_anchors() -> set[str]:
    """GitHub-style anchors of the headings in docs/operations.md."""
    anchors = set()
    for line in OPERATIONS_DOC.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return anchors


def test_lag_metrics_carry_kafka_lag_exporter_names(code_metric_names: set[str]) -> None:
    """The four names dashboards already use for lag are exported by the code."""
    assert code_metric_names >= LAG_EXPORTER_NAMES


def test_rules_use_only_exported_metrics(code_metric_names: set[str]) -> None:
    """Every metric an alert expression reads is one the code exports."""
    for rule in _rules():
        unknown = get_promql_metric_names(rule["expr"]) - code_metric_names
        assert not unknown, f"{rule['alert']}: {sorted(unknown)}"


def test_dashboard_uses_only_exported_metrics(code_metric_names: set[str]) -> None:
    """Every metric a panel or variable query reads is one the code exports."""
    dashboard = _dashboard()
    expressions = [t["expr"] for p in _panels() for t in p["targets"]]
    expressions += [v["definition"] for v in dashboard["templating"]["list"]]
    for expression in expressions:
        unknown = get_promql_metric_names(expression) - code_metric_names
        assert not unknown, f"{expression}: {sorted(unknown)}"


def test_required_alerts_exist_with_severity_summary_and_runbook() -> None:
    """Lag growing, time lag, dead letters, freshness p99 and readiness each have an alert;
    each alert has a severity, a summary and a runbook section that exists in the docs."""
    rules = {rule["alert"]: rule for rule in _rules()}
    assert {
        "TouchpointConsumerLagGrowing",
        "TouchpointConsumerTimeLagHigh",
        "TouchpointDeadLetterReceiving",
        "TouchpointFoldFreshnessP99High",
        "TouchpointServiceNotReady",
    } <= set(rules)
    anchors = _doc_anchors()
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert rule["annotations"]["summary"], name
        runbook = rule["annotations"]["runbook"]
        path, _, anchor = runbook.partition("#")
        assert (ROOT / path) == OPERATIONS_DOC, name
        assert anchor in anchors, f"{name}: no heading for #{anchor} in {path}"
    assert rules["TouchpointConsumerLagGrowing"]["for"].endswith("m")


def test_prometheus_scrapes_the_compose_services_and_loads_the_mounted_rules() -> None:
    """Scrape targets are the compose services on their ports; rule_files is where compose
    mounts deploy/prometheus/rules."""
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    compose = _compose()
    [job] = [job for job in config["scrape_configs"] if job["job_name"] == "touchpoint"]
    targets = {t for group in job["static_configs"] for t in group["targets"]}
    expected = {
        f"{name}:{compose['services'][name]['build']['args']['PORT']}"
        for name in ("ingest", "profile", "recommend")
    }
    assert targets == expected
    mounts = dict(volume.split(":")[:2] for volume in compose["services"]["prometheus"]["volumes"])
    assert mounts["./prometheus/rules"] + "/*.yml" in config["rule_files"]
    assert mounts["./prometheus/prometheus.yml"] == "/etc/prometheus/prometheus.yml"


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    """promtool accepts the rules and its unit tests show each alert firing (and not firing on
    look-alikes) on synthetic series."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed")
    check = subprocess.run(
        [promtool, "check", "rules", str(RULES_FILE)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_dashboard_covers_lag_freshness_ingest_and_errors() -> None:
    """The dashboard shows lag per group and partition, time lag, freshness, ingest rate,
    HTTP status and dead letters."""
    used = set().union(
        *(get_promql_metric_names(t["expr"]) for p in _panels() for t in p["targets"])
    )
    assert {
        "kafka_consumergroup_group_lag",
        "kafka_consumergroup_group_sum_lag",
        "kafka_consumergroup_group_lag_seconds",
        "touchpoint_fold_freshness_seconds_bucket",
        "touchpoint_events_produced_total",
        "touchpoint_http_requests_total",
        "touchpoint_events_dead_lettered_total",
    } <= used


def test_dashboard_panels_are_well_formed_and_do_not_overlap() -> None:
    """Unique panel ids, the provisioned data source on every query, and no two panels on
    the same grid cells."""
    dashboard = _dashboard()
    datasource = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], int] = {}
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"panel {panel['id']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["id"]
    for panel in _panels():
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource["uid"]
            assert target["expr"].strip()
    assert datasource["url"] == "http://prometheus:9090"
    assert dashboard["uid"]


def test_grafana_provisioning_points_at_the_mounted_dashboard() -> None:
    """The dashboard provider reads the folder compose mounts the dashboard JSON into."""
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "touchpoint.yml").read_text()
    )["providers"][0]
    mounts = dict(v.split(":")[:2] for v in _compose()["services"]["grafana"]["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
