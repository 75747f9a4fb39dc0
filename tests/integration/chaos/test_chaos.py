"""`make chaos`, reduced: two faults of each kind under a few thousand events, nothing lost."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import report
from touchpoint_devtools.chaos.faults import FaultKind
from touchpoint_devtools.chaos.run import ChaosConfig, run_chaos

pytestmark = pytest.mark.integration

REDUCED = ChaosConfig(
    faults=10,
    duration=75.0,
    rate=40.0,
    customers=200,
    seed=20261129,
    postgres_pause_s=3.0,
    drain_timeout_s=120.0,
)


@pytest.mark.timeout(600)
async def test_faults_under_load_lose_nothing_and_count_nothing_twice(tmp_path: Path) -> None:
    """kill -9 of ingest, profile and learner, a broker restart and a database stop, twice
    each, under ~3,000 events on private servers: every accepted event is on the topic once
    per customer, every customer's purchases, net spend and channel counts in the view equal
    what the client got 2xx for, and every service is ready with lag 0 again by itself."""
    result = await run_chaos(replace(REDUCED, workdir=tmp_path / "chaos"))
    for line in result.render().splitlines():
        report(f"chaos: {line}")
    assert result.faults_by_kind() == {str(kind): 2 for kind in FaultKind}
    assert result.events_accepted >= 2500
    assert result.customers_checked > 0
    assert result.ok, result.render()
