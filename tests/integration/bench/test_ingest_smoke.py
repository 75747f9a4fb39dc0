"""`make bench-smoke`: the ingest bench harness runs end to end (no timing is asserted)."""

from __future__ import annotations

import pytest

from bench.ingest_load import measure

pytestmark = pytest.mark.integration


async def test_ingest_bench_harness_reports_every_figure() -> None:
    """One short run of the in-flight scenarios against a real uvicorn ingest on the test
    servers yields each figure (throughput, latency, CPU per event, server-side duration)."""
    report = await measure(runs=1, workers=1, seed=1, seconds=1.0, py_spy=None, single=True)
    names = {figure.name for figure in report.figures}
    for scenario in ("POST /v1/events/batch x100 4 in flight", "POST /v1/events 64 in flight"):
        for suffix in ("throughput", "p99", "service CPU per event", "server-side mean duration"):
            assert f"{scenario} {suffix}" in names
    throughput = [f for f in report.figures if f.name.endswith("throughput")]
    assert all(figure.value > 0 for figure in throughput), "no event was accepted"
