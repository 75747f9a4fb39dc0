"""How the dev servers path is chosen, and what the generated configuration says (no I/O)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from touchpoint_devtools.devservers import DevServerUnavailable, choose_path
from touchpoint_devtools.devservers.kafka import LocalKafka, new_cluster_id


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
