"""The constant-rate generator against a real uvicorn ingest (no timing is asserted)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from bench.environment import api_headers, bench_environment
from bench.ingest import encoded_bodies
from bench.memory import process_tree_rss
from bench.openloop import run_open_loop
from bench.rawhttp import RawPool, prepare_get, prepare_post
from touchpoint_devtools.generator.traffic import TrafficModel

pytestmark = pytest.mark.integration


async def test_open_loop_posts_and_reads_account_for_every_scheduled_request() -> None:
    """Single events posted and /readyz read open-loop (quick: 1 s each, a small cap so some
    may be dropped) over the raw keep-alive pool: every scheduled request is completed,
    failed or dropped exactly once, latencies from the scheduled times are not negative,
    and the service's RSS can be read while it runs."""
    with tempfile.TemporaryDirectory(prefix="touchpoint-openloop-smoke-") as workdir:
        async with bench_environment(Path(workdir), partitions=2) as env:
            service = await env.start_service("ingest")
            headers = api_headers()
            posts = [
                prepare_post(service.url, "/v1/events", body, headers)
                for body in encoded_bodies(TrafficModel(customers=50, seed=3), size=None, count=200)
            ]
            pool = RawPool(service.url, 64)

            async def post(index: int) -> int:
                status, _ = await pool.request(posts[index])
                return status

            ready = prepare_get(service.url, "/readyz", {})

            async def read(index: int) -> int:
                status, _ = await pool.request(ready)
                return status

            try:
                results = [
                    await run_open_loop(post, rate=200, seconds=1.0, ok={202}, max_outstanding=64),
                    await run_open_loop(read, rate=500, seconds=1.0, ok={200}, max_outstanding=2),
                ]
            finally:
                await pool.close()
            assert (process_tree_rss(service.process.pid) or 0) > 0
    for result in results:
        assert result.completed + result.error_count + result.dropped == result.scheduled
        assert result.completed > 0, result.describe()
        assert all(latency >= 0 for latency in result.latencies)
        assert result.achieved > 0
