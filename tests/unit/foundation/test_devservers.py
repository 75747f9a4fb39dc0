"""How the dev servers path is chosen, and what the generated configuration says (no I/O)."""

from __future__ import annotations

import base64
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from touchpoint_devtools.devservers import DevServerUnavailable, choose_path
from touchpoint_devtools.devservers._common import get_free_port, prefer_port
from touchpoint_devtools.devservers.kafka import LocalKafka, new_cluster_id, storage_format_args
from touchpoint_devtools.devservers.run import Servers, describe_servers


def engine(reachable: bool) -> tuple[bool, str]:
    return (reachable, "27.0" if reachable else "no Docker engine reachable (test)")


@pytest.mark.parametrize("kind", ["kafka", "postgres"])
def test_environment_override_wins_over_docker(kind: str) -> None:
    """A set TOUCHPOINT_* variable is used as is, even with a Docker engine at hand."""
    variable = "TOUCHPOINT_KAFKA_BOOTSTRAP" if kind == "kafka" else "TOUCHPOINT_DATABASE_URL"
    path, why = choose_path(
        kind,  # type: ignore[arg-type]
        environ={variable: "somewhere"},
        docker_reachable=lambda: engine(True),
    )
    assert (path, why) == ("env", f"{variable} is set")


def test_overrides_are_independent() -> None:
    """Overriding the broker does not stop the database from being started."""
    environ = {"TOUCHPOINT_KAFKA_BOOTSTRAP": "broker:9092"}
    assert choose_path("kafka", environ=environ, docker_reachable=lambda: engine(False))[0] == "env"
    path, why = choose_path("postgres", environ=environ, docker_reachable=lambda: engine(False))
    assert path == "local"
    assert "no Docker engine" in why


def test_docker_preferred_when_engine_answers() -> None:
    """With a reachable engine and no override, containers are used."""
    assert choose_path("kafka", environ={}, docker_reachable=lambda: engine(True))[0] == "docker"


def test_forced_local_skips_the_engine_check() -> None:
    """TOUCHPOINT_DEVSERVERS_MODE=local never asks Docker."""

    def must_not_ask() -> tuple[bool, str]:
        raise AssertionError("Docker was consulted")

    environ = {"TOUCHPOINT_DEVSERVERS_MODE": "local"}
    assert choose_path("postgres", environ=environ, docker_reachable=must_not_ask)[0] == "local"


def test_forced_docker_without_engine_names_the_problem() -> None:
    """TOUCHPOINT_DEVSERVERS_MODE=docker with no engine fails saying so."""
    with pytest.raises(DevServerUnavailable, match="no Docker engine"):
        choose_path(
            "kafka",
            environ={"TOUCHPOINT_DEVSERVERS_MODE": "docker"},
            docker_reachable=lambda: engine(False),
        )


def test_cluster_id_has_kafka_uuid_form() -> None:
    """Cluster ids are 22 URL-safe base64 characters, as StorageTool expects, and fresh."""
    ids = {new_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id) for cluster_id in ids)


def test_cluster_ids_never_start_with_a_dash() -> None:
    """1 random id in 64 used to start with '-', which kafka-storage read as an option and
    failed start-up (the CI flake): thousands of fresh ids now never do."""
    assert not any(new_cluster_id().startswith("-") for _ in range(5000))


@given(st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=5))
def test_cluster_id_draws_again_on_a_leading_dash(draws: list[bytes]) -> None:
    """Whatever bytes are drawn, the id is the first draw whose text does not start with
    '-' (and is not all zero), as Kafka's Uuid.randomUuid() does."""
    dash = b"\xf8" + bytes(15)  # 0xF8 >> 2 == 62, base64url '-'
    usable = b"\x01" * 16
    source = iter([dash, *draws, usable])
    cluster_id = new_cluster_id(lambda: next(source))
    expected = next(
        raw
        for raw in [*draws, usable]
        if any(raw) and not base64.urlsafe_b64encode(raw).decode().startswith("-")
    )
    assert not cluster_id.startswith("-")
    assert base64.urlsafe_b64decode(cluster_id + "==") == expected


def test_format_passes_the_cluster_id_as_one_argument(tmp_path: Path) -> None:
    """kafka-storage gets --cluster-id=ID as one argument, so even an id starting with '-'
    is read as the option's value (verified against Kafka 4.1.1's StorageTool)."""
    args = storage_format_args("-AECAwQFBgcICQoLDA0ODw", tmp_path / "server.properties")
    assert args == [
        "format",
        "--cluster-id=-AECAwQFBgcICQoLDA0ODw",
        "--config",
        str(tmp_path / "server.properties"),
    ]


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port something listens on (a real socket), for the duration of a test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_prefer_port_takes_the_conventional_port_when_free() -> None:
    """A free preferred port is used, with nothing to explain."""
    free = get_free_port()
    assert prefer_port(free, what="broker") == (free, "")


def test_prefer_port_falls_back_and_says_why(listening_port: int) -> None:
    """When something listens on the preferred port, a different free port is chosen and
    the note names the busy one."""
    port, note = prefer_port(listening_port, what="database")
    assert port != listening_port
    assert note == f"database on free port {port}: {listening_port} is in use"


def test_run_names_broker_and_database_for_the_usual_tools() -> None:
    """`make run` prints the bootstrap address for kcat / kafka-consumer-groups and a libpq
    URL for psql, plus any port note."""
    lines = describe_servers(
        Servers(
            "127.0.0.1:9092",
            "postgresql+asyncpg://touchpoint:touchpoint@127.0.0.1:5432/touchpoint",
            ("database on free port 40001: 5432 is in use",),
        )
    )
    text = "\n".join(lines)
    assert "kcat -b 127.0.0.1:9092 -L" in text
    assert "kafka-consumer-groups --bootstrap-server 127.0.0.1:9092" in text
    assert "postgresql://touchpoint:touchpoint@127.0.0.1:5432/touchpoint " in text
    assert lines[-1] == "  note: database on free port 40001: 5432 is in use"


def test_server_properties_single_node_kraft(tmp_path: Path) -> None:
    """The generated broker configuration is a single KRaft node on 127.0.0.1 with
    replication factor 1 for internal topics and no automatic topic creation."""
    broker = LocalKafka(workdir=tmp_path, port=19092)
    broker.controller_port = 19093
    path = broker._write_properties()
    lines = dict(line.split("=", 1) for line in path.read_text().splitlines())
    assert lines["process.roles"] == "broker,controller"
    assert lines["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert lines["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert lines["offsets.topic.replication.factor"] == "1"
    assert lines["transaction.state.log.replication.factor"] == "1"
    assert lines["transaction.state.log.min.isr"] == "1"
    assert lines["group.initial.rebalance.delay.ms"] == "0"
    assert lines["auto.create.topics.enable"] == "false"
