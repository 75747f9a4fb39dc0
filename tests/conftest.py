"""Real servers for integration tests: one broker and one database server per test session.

Servers start only when a test asks for them (unit-only runs start nothing). With
TOUCHPOINT_KAFKA_BOOTSTRAP / TOUCHPOINT_DATABASE_URL set (e.g. `set -a; . /work/team/servers.env`)
those servers are used instead; either way each session gets its own database and topics.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import pytest_asyncio

from touchpoint_common.kafka.admin import create_topics
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.devservers import DevServers, LocalKafka, start_servers
from touchpoint_devtools.devservers.databases import create_migrated_database, drop_database

SESSION_SUFFIX = uuid.uuid4().hex[:8]
# The ranking job grades every view of the session database: a profile app started by a test
# runs it only when the test asks (POST /v1/admin/rankings/run, run_ranking), not on a timer.
os.environ.setdefault("TOUCHPOINT_RANKING_INTERVAL_S", "0")
_evidence: list[str] = []


def report(line: str) -> None:
    """Show a line in the terminal summary: which servers were used and what went through them."""
    _evidence.append(line)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print which real servers the session used, and the round trips made through them."""
    if _evidence:
        terminalreporter.section("real servers used")
        for line in _evidence:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def dev_servers(pytestconfig: pytest.Config) -> Iterator[DevServers]:
    """A running broker and database server (env override > Docker > local binaries)."""
    servers = start_servers()
    for line in servers.describe().splitlines():
        report(line)
        writer = pytestconfig.pluginmanager.get_plugin("terminalreporter")
        if writer is not None:
            writer.write_line(f"\n[dev servers] {line}")
    yield servers
    servers.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(dev_servers: DevServers) -> str:
    """host:port of the session's real Kafka broker."""
    return dev_servers.kafka_bootstrap


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database_url(dev_servers: DevServers) -> AsyncIterator[str]:
    """A fresh database `touchpoint_test_<random>`, migrated to head; dropped at the end."""
    name = f"touchpoint_test_{SESSION_SUFFIX}"
    url = await create_migrated_database(dev_servers.database_url, name)
    report(f"postgres: session database {name} created and migrated")
    yield url
    await drop_database(dev_servers.database_url, name)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def settings(kafka_bootstrap: str, database_url: str) -> CommonSettings:
    """CommonSettings on the real servers, with this session's own topics (already created)."""
    configured = CommonSettings(
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        topic_interactions=f"touchpoint.interactions.v1.test-{SESSION_SUFFIX}",
        topic_dead_letter=f"touchpoint.interactions.dlq.v1.test-{SESSION_SUFFIX}",
        topic_rankings=f"touchpoint.rankings.v1.test-{SESSION_SUFFIX}",
        topic_partitions=3,
        log_json=False,
    )
    await create_topics(configured)
    report(f"kafka: session topics {configured.topic_interactions}, {configured.topic_dead_letter}")
    return configured


@pytest.fixture
def own_kafka() -> Iterator[Callable[[], LocalKafka]]:
    """Factory of private, started LocalKafka brokers a test may stop() and start() again.

    Restarting keeps the port and the data. All of them are stopped and deleted afterwards.
    """
    if shutil.which("java") is None:
        pytest.skip("own_kafka needs java (and mvn once) to run a private Kafka broker")
    brokers: list[LocalKafka] = []

    def make() -> LocalKafka:
        broker = LocalKafka()
        brokers.append(broker)
        broker.start()
        report(
            f"kafka: private broker {broker.version} at {broker.bootstrap} "
            f"(started in {broker.start_seconds:.1f}s)"
        )
        return broker

    yield make
    for broker in brokers:
        broker.close()
