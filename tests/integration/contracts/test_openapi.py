"""Schemathesis with every check against the three services, served over real HTTP.

Bounded: a few examples per operation, a fixed seed, no shrinking, one worker; the run of each
service is capped by a timeout. Expectations tuned for documented reasons are in
schemathesis.toml next to this file (no check is excluded).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.conftest import SESSION_SUFFIX, report
from tests.integration.keys import create_token
from tests.integration.services import create_service_apps, reserve_urls
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.devservers import DevServers
from touchpoint_devtools.devservers.databases import create_migrated_database, drop_database

pytestmark = pytest.mark.integration
CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = 1
EXAMPLES_PER_OPERATION = 5
RUN_TIMEOUT_S = 150.0
SERVICES = ("ingest", "profile", "recommend")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def contract_settings(
    dev_servers: DevServers, settings: CommonSettings
) -> AsyncIterator[CommonSettings]:
    """The session's settings on a database of this module's own: schemathesis holds an admin
    key and may revoke keys or replace the recommend config, which must not reach the keys and
    config the rest of the session uses."""
    name = f"touchpoint_test_{SESSION_SUFFIX}_contracts"
    url = await create_migrated_database(dev_servers.database_url, name)
    yield settings.model_copy(update={"database_url": url})
    await drop_database(dev_servers.database_url, name)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def served(
    contract_settings: CommonSettings, tmp_path_factory: Any
) -> AsyncIterator[dict[str, str]]:
    """The three services on free ports of 127.0.0.1, until the module ends."""
    async with reserve_urls(list(SERVICES)) as (urls, serve):
        apps = create_service_apps(contract_settings, tmp_path_factory.mktemp("contracts"))
        async with serve(apps):
            yield urls


async def run_schemathesis(url: str, token: str, report_dir: Path) -> tuple[int, str]:
    """`st run --checks all` on the service's /openapi.json: exit code and output."""
    st = Path(sys.executable).with_name("st")
    process = await asyncio.create_subprocess_exec(
        str(st),
        "--no-color",
        "--config-file",
        str(CONFIG),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        str(SEED),
        "--no-shrink",
        "--generation-database",
        "none",
        "--workers",
        "1",
        "--warnings",
        "off",
        "--report-dir",
        str(report_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(RUN_TIMEOUT_S):
            output, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, output.decode(errors="replace")


@pytest.mark.parametrize("service", SERVICES)
async def test_schemathesis_all_checks_pass(
    served: dict[str, str], contract_settings: CommonSettings, service: str, tmp_path: Path
) -> None:
    """Every status code, content type, header and body a service answers is in its OpenAPI,
    what its schema forbids is refused and what it allows is taken: schemathesis' checks
    (all of them) find nothing, with a key holding every scope (admin included)."""
    token = await create_token(contract_settings.database_url, name=f"schemathesis {service}")
    code, output = await run_schemathesis(served[service], token, tmp_path)
    summary = [line for line in output.splitlines() if "generated" in line]
    report(f"schemathesis --checks all on {service}: {summary[-1].strip() if summary else '?'}")
    assert code == 0, output[-20_000:]
