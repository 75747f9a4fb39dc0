"""The "no archaeology" bench section runs end to end (no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.archaeology import QUICK_SIZES, SECTION, bench_archaeology
from bench.environment import bench_environment
from bench.stats import Report

pytestmark = pytest.mark.integration


async def test_archaeology_reports_every_figure_and_both_sides_agree(tmp_path: Path) -> None:
    """In quick mode, against a real profile service (uvicorn, fold consumer inside) on the
    test servers: every size gets its latencies, ratio and sizes, all > 0, and the view
    rebuilt from raw events equals the stored view and the HTTP view at the same as_of."""
    report = Report()
    async with bench_environment(tmp_path, partitions=2) as env:
        group = f"touchpoint-profile-arch-{env.run_id}"
        service = await env.start_service("profile", {"TOUCHPOINT_CONSUMER_GROUP": group})
        await bench_archaeology(
            report, env, seed=1, quick=True, profile_url=service.url, group=group
        )
    figures = {f.name: f for f in report.figures if f.section == SECTION}
    for size in QUICK_SIZES:
        expected = [
            *(
                f"{side}, {size} events {p}"
                for side in ("raw events -> view", "stored state -> view", "GET view over HTTP")
                for p in ("p50", "p95", "p99")
            ),
            f"raw events / stored view, {size} events",
            f"raw events in PostgreSQL, {size} events",
            f"stored state in PostgreSQL, {size} events",
        ]
        for name in expected:
            assert name in figures, name
            assert figures[name].value > 0, name
    differing = report.facts["archaeology_fields_differing_raw_vs_stored_vs_http"]
    assert differing == {str(size): [] for size in QUICK_SIZES}
