"""A single-node Apache Kafka 4 broker (KRaft) run from its own jars on Maven Central.

For machines without a Docker engine. The jars are resolved once with Maven from
deploy/kafka/pom.xml and cached under ~/.cache/touchpoint/kafka-<version>/libs; later runs
start the broker without touching Maven.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from touchpoint_devtools.devservers._common import (
    DevServerUnavailable,
    LocalServer,
    get_cache_dir,
    get_free_port,
    is_port_open,
    run_coroutine_in_thread,
    tail,
    terminate_group,
)

logger = logging.getLogger(__name__)

KAFKA_VERSION = os.environ.get("TOUCHPOINT_DEVSERVERS_KAFKA_VERSION", "4.1.1")
KAFKA_HEAP = os.environ.get("TOUCHPOINT_DEVSERVERS_KAFKA_HEAP", "512m")
START_TIMEOUT_SECONDS = 90.0
POM_ENV = "TOUCHPOINT_DEVSERVERS_KAFKA_POM"


def _log4j2_properties(*, target: str, level: str, extra: str = "") -> str:
    """A log4j2 configuration with one console appender on `target` (SYSTEM_OUT/SYSTEM_ERR)."""
    return (
        "status = warn\n"
        "appender.console.type = Console\n"
        "appender.console.name = CONSOLE\n"
        f"appender.console.target = {target}\n"
        "appender.console.layout.type = PatternLayout\n"
        "appender.console.layout.pattern = [%d] %p %m (%c)%n\n"
        f"rootLogger.level = {level}\n"
        "rootLogger.appenderRef.console.ref = CONSOLE\n"
        f"{extra}"
    )


LOG4J2_PROPERTIES = _log4j2_properties(
    target="SYSTEM_OUT",
    level="INFO",
    extra=(
        "logger.kafka.name = kafka\n"
        "logger.kafka.level = INFO\n"
        "logger.requestlogger.name = kafka.request.logger\n"
        "logger.requestlogger.level = WARN\n"
    ),
)
# Command-line tools print their answer on stdout; their logging goes to stderr, warnings only.
LOG4J2_TOOLS_PROPERTIES = _log4j2_properties(target="SYSTEM_ERR", level="WARN")


def find_pom() -> Path:
    """deploy/kafka/pom.xml of the source tree this package runs from (or $TOUCHPOINT_...POM)."""
    configured = os.environ.get(POM_ENV)
    if configured:
        return Path(configured)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "deploy" / "kafka" / "pom.xml"
        if candidate.is_file():
            return candidate
    raise DevServerUnavailable(
        f"deploy/kafka/pom.xml not found above {Path(__file__).parent}; set {POM_ENV}"
    )


def get_kafka_home(version: str = KAFKA_VERSION) -> Path:
    """The cache folder for one Kafka version; its jars are in `libs/`."""
    return get_cache_dir() / f"kafka-{version}"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise DevServerUnavailable(
            "java not found on PATH: the local Kafka broker needs Java 17 or newer "
            "(apt-get install openjdk-17-jre-headless), or a Docker engine, "
            "or TOUCHPOINT_KAFKA_BOOTSTRAP pointing at a running broker"
        )
    return java


def ensure_kafka_libs(version: str = KAFKA_VERSION) -> Path:
    """The folder of Kafka's jars, fetched with Maven on the first call and cached after."""
    home = get_kafka_home(version)
    libs = home / "libs"
    marker = home / ".complete"
    if marker.is_file():
        return libs
    with _file_lock(home.parent / f".kafka-{version}.lock"):
        if marker.is_file():
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise DevServerUnavailable(
                f"mvn not found on PATH: needed once to fetch Apache Kafka {version} jars from "
                "Maven Central (apt-get install maven), or use a Docker engine, "
                "or TOUCHPOINT_KAFKA_BOOTSTRAP pointing at a running broker"
            )
        pom = find_pom()
        staging = Path(tempfile.mkdtemp(prefix="libs-", dir=home.parent))
        logger.info("fetching Kafka %s jars with Maven into %s", version, libs)
        started = time.monotonic()
        result = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
                "-DincludeScope=runtime",
                f"-Dkafka.version={version}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise DevServerUnavailable(
                f"mvn could not fetch Kafka {version} jars (exit {result.returncode}):\n"
                f"{(result.stdout + result.stderr)[-3000:]}"
            )
        home.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        marker.write_text(f"fetched in {time.monotonic() - started:.1f}s\n")
        logger.info("Kafka jars cached in %.1fs", time.monotonic() - started)
    return libs


def _java_command(
    main_class: str,
    *args: str,
    heap: str = "256m",
    log_config: Path | None = None,
    short_lived: bool = True,
) -> list[str]:
    java = _require_java()
    libs = ensure_kafka_libs()
    if log_config is None:
        log_config = libs.parent / "log4j2-tools.properties"
        if not log_config.is_file():
            log_config.write_text(LOG4J2_TOOLS_PROPERTIES)
    # Tools run for a second: C1 only starts faster. The broker keeps the full JIT.
    jit = ["-XX:TieredStopAtLevel=1"] if short_lived else []
    return [
        java,
        f"-Xmx{heap}",
        "-XX:+UseSerialGC",
        *jit,
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log_config}",
        "-cp",
        f"{libs}/*",
        main_class,
        *args,
    ]


def run_kafka_tool(
    main_class: str,
    *args: str,
    timeout: float = 120.0,
    heap: str = "256m",
    short_lived: bool = True,
) -> str:
    """Run one of Kafka's command-line tools by main class; return its output, raise on failure.

    Example: run_kafka_tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "--bootstrap-server", bootstrap, "--describe", "--group", "profile").
    `short_lived=False` keeps the full JIT, for tools that run long enough to be measured
    (org.apache.kafka.tools.ProducerPerformance).
    """
    result = subprocess.run(
        _java_command(main_class, *args, heap=heap, short_lived=short_lived),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{main_class} {' '.join(args)} failed with exit {result.returncode}:\n"
            f"{result.stdout}{result.stderr}"
        )
    return result.stdout


def _random_uuid_bytes() -> bytes:
    """16 random bytes (a version-4 UUID)."""
    return uuid.uuid4().bytes


def new_cluster_id(draw: Callable[[], bytes] = _random_uuid_bytes) -> str:
    """Kafka's Uuid text form (URL-safe base64 of 16 bytes, no padding), never starting with '-'.

    About 1 id in 64 would start with '-', which command-line parsers take for an option;
    Kafka's own Uuid.randomUuid() draws again in that case, and so do we.
    """
    while True:
        raw = draw()
        text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        if not text.startswith("-") and any(raw):
            return text


def storage_format_args(cluster_id: str, properties: Path) -> list[str]:
    """kafka-storage's `format` arguments; the id is glued to its option, so it stays a value."""
    return ["format", f"--cluster-id={cluster_id}", "--config", str(properties)]


class LocalKafka(LocalServer):
    """One broker+controller process on 127.0.0.1; stop() keeps data so start() resumes it."""

    def __init__(self, workdir: Path | None = None, port: int | None = None) -> None:
        self._owns_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="touchpoint-kafka-"))
        self.port = port
        self.controller_port: int | None = None
        self.version = KAFKA_VERSION
        self.log_path = self.workdir / "broker.log"
        self.start_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """host:port of the PLAINTEXT listener."""
        return f"127.0.0.1:{self.started_port()}"

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._process.pid if self.running and self._process else None

    @property
    def detail(self) -> str:
        """Version and origin of the broker."""
        return f"Apache Kafka {self.version} (KRaft, jars from Maven Central, pid {self.pid})"

    def start(self) -> str:
        """Start (or restart on the same port and data) and wait until metadata answers."""
        if self.running:
            return self.bootstrap
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        properties = self._write_properties()
        if not (self.workdir / "data" / "meta.properties").is_file():
            self._format_storage(properties)
        log_config = self.workdir / "log4j2.properties"
        log_config.write_text(LOG4J2_PROPERTIES)
        command = _java_command(
            "kafka.Kafka",
            str(properties),
            heap=KAFKA_HEAP,
            log_config=log_config,
            short_lived=False,
        )
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                start_new_session=True,
            )
        atexit.register(self.stop)
        try:
            self._wait_ready(started + START_TIMEOUT_SECONDS)
            self.start_seconds = time.monotonic() - started
            logger.info(
                "Kafka %s ready at %s in %.1fs", self.version, self.bootstrap, self.start_seconds
            )
        except BaseException:
            self.stop()
            raise
        return self.bootstrap

    def stop(self) -> None:
        """SIGTERM (controlled shutdown), then SIGKILL after a grace period; data is kept."""
        if self._process is not None:
            terminate_group(self._process, grace_seconds=30)
            self._process = None
        atexit.unregister(self.stop)

    async def start_async(self) -> str:
        """start() without blocking the running event loop."""
        import asyncio

        return await asyncio.to_thread(self.start)

    async def stop_async(self) -> None:
        """stop() without blocking the running event loop."""
        import asyncio

        await asyncio.to_thread(self.stop)

    def _write_properties(self) -> Path:
        if self.port is None:
            self.port = get_free_port()
        if self.controller_port is None:
            self.controller_port = get_free_port()
        path = self.workdir / "server.properties"
        settings: dict[str, Any] = {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": self.workdir / "data",
            "num.partitions": 1,
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": 1,
            "offsets.topic.num.partitions": 10,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "transaction.state.log.num.partitions": 4,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            "num.network.threads": 2,
            "num.io.threads": 4,
            "num.recovery.threads.per.data.dir": 1,
            "log.retention.check.interval.ms": 300000,
            "delete.topic.enable": "true",
        }
        path.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        return path

    def _format_storage(self, properties: Path) -> None:
        command = _java_command(
            "kafka.tools.StorageTool", *storage_format_args(new_cluster_id(), properties)
        )
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise DevServerUnavailable(
                f"Kafka StorageTool format failed (exit {result.returncode}):\n"
                f"{(result.stdout + result.stderr)[-3000:]}"
            )

    def _wait_ready(self, deadline: float) -> None:
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise DevServerUnavailable(
                    f"Kafka broker exited with {self._process.returncode} during start-up; "
                    f"log tail ({self.log_path}):\n{tail(self.log_path)}"
                )
            if self._answers_metadata():
                return
            if time.monotonic() >= deadline:
                raise DevServerUnavailable(
                    f"Kafka broker did not answer metadata at {self.bootstrap} within "
                    f"{START_TIMEOUT_SECONDS:.0f}s; log tail ({self.log_path}):\n"
                    f"{tail(self.log_path)}"
                )
            time.sleep(0.3)

    def _answers_metadata(self) -> bool:
        bootstrap = self.bootstrap
        if self.port is None or not is_port_open(self.port):
            return False

        async def probe() -> bool:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
            try:
                await admin.start()
                cluster = await admin.describe_cluster()
                return bool(cluster.get("brokers"))
            finally:
                await admin.close()

        try:
            return run_coroutine_in_thread(probe, timeout=5)
        except Exception:
            return False
