"""Shared look-ups for the deploy checks: repository paths and the metric names the code exports."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.core import Metric

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
    "gauge": ("",),
    "unknown": ("",),
    "info": ("_info",),
}
# Modules that define metrics: the shared ones and each service's app (which imports the rest).
_METRIC_MODULES = (
    "touchpoint_common.observability.metrics",
    "touchpoint_common.observability.health",
    "touchpoint_common.ops.metrics",
    "touchpoint_ingest.main",
    "touchpoint_profile.main",
    "touchpoint_recommend.main",
)
_PROMQL_METRIC = re.compile(r"\b((?:touchpoint|kafka)_[a-z0-9_]+)\b")


def _sample_names(family: Metric) -> set[str]:
    suffixes = _SUFFIXES.get(family.type, ("",))
    return {family.name + suffix for suffix in suffixes} | {family.name}


def get_code_metric_names() -> set[str]:
    """Every series name the code can expose on /metrics (registry plus the lag exporter)."""
    for module in _METRIC_MODULES:
        importlib.import_module(module)
    from touchpoint_common.ops.metrics import build_lag_metrics

    names: set[str] = set()
    for family in [*REGISTRY.collect(), *build_lag_metrics([])]:
        names |= _sample_names(family)
    return names


def get_promql_metric_names(expression: str) -> set[str]:
    """Touchpoint and Kafka metric names an expression refers to."""
    return set(_PROMQL_METRIC.findall(expression))


@pytest.fixture(scope="session")
def code_metric_names() -> set[str]:
    """Metric names the code exports."""
    return get_code_metric_names()
