"""Which faults a run injects and when (pure, seeded), and how each one is carried out."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from enum import StrEnum

from touchpoint_devtools.chaos.cluster import Cluster


class FaultKind(StrEnum):
    """The faults of `make chaos`."""

    KILL_INGEST = "kill -9 ingest"
    KILL_PROFILE = "kill -9 profile consumer"
    KILL_LEARNER = "kill -9 recommend learner"
    RESTART_KAFKA = "restart Kafka broker"
    STOP_POSTGRES = "stop PostgreSQL"


KILLED_SERVICE: dict[FaultKind, str] = {
    FaultKind.KILL_INGEST: "ingest",
    FaultKind.KILL_PROFILE: "profile",
    FaultKind.KILL_LEARNER: "recommend",
}


@dataclass(frozen=True)
class PlannedFault:
    """A fault to inject `at` seconds after the load starts."""

    at: float
    kind: FaultKind


@dataclass(frozen=True)
class InjectedFault:
    """A fault as it happened: when, how long the outage lasted, how long recovery took."""

    kind: FaultKind
    at: float
    outage_s: float
    recovery_s: float
    """From the end of the outage (the restart) until every service answered readyz 200."""


def count_kinds(faults: int) -> list[FaultKind]:
    """`faults` faults shared evenly by the five kinds (50: ten of each)."""
    kinds = list(FaultKind)
    return [kinds[index % len(kinds)] for index in range(faults)]


def plan_faults(*, faults: int, duration: float, seed: int) -> list[PlannedFault]:
    """`faults` faults at random moments of the load, in time order, one slot each.

    The load is cut into `faults` equal slots and each fault lands at a random point of the
    first 60% of its slot, so a slow fault (a 30 s database stop) never overlaps the next.
    """
    rng = random.Random(seed)
    kinds = count_kinds(faults)
    rng.shuffle(kinds)
    slot = duration / max(1, faults)
    return [
        PlannedFault(at=index * slot + rng.uniform(0.0, 0.6) * slot, kind=kind)
        for index, kind in enumerate(kinds)
    ]


def inject(cluster: Cluster, kind: FaultKind, *, postgres_pause_s: float) -> float:
    """Carry out one fault (blocking); returns how long the outage lasted, in seconds."""
    started = time.monotonic()
    if kind in KILLED_SERVICE:
        process = cluster.services[KILLED_SERVICE[kind]]
        with cluster.lock:
            process.kill9()
            process.start()  # at once, as Kubernetes restarts a container
    elif kind is FaultKind.RESTART_KAFKA:
        cluster.kafka.stop()
        cluster.kafka.start()
    else:
        cluster.postgres.stop()
        time.sleep(postgres_pause_s)
        cluster.postgres.start()
    return time.monotonic() - started
