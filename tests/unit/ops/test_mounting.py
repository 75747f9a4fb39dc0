"""Every service exposes the ops endpoints: /healthz, /readyz, /metrics and /v1/ops/lag."""

from __future__ import annotations

import importlib

import pytest
from fastapi import FastAPI

OPS_PATHS = {"/healthz", "/readyz", "/metrics", "/v1/ops/lag"}


@pytest.mark.parametrize(
    "module", ["touchpoint_ingest.main", "touchpoint_profile.main", "touchpoint_recommend.main"]
)
def test_service_mounts_the_ops_endpoints(module: str) -> None:
    """The service's app routes include the health, metrics and lag endpoints."""
    app = importlib.import_module(module).app
    assert isinstance(app, FastAPI)
    paths = set(app.openapi()["paths"])
    assert paths >= OPS_PATHS, sorted(OPS_PATHS - paths)
