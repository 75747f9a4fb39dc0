"""A throwaway PostgreSQL cluster (initdb + pg_ctl) on a free port, for machines without Docker.

initdb refuses to run as root, so when we are root the server runs as the `postgres` system
user on a data folder it owns. Trust authentication on 127.0.0.1 and fsync=off: test use only.
"""

from __future__ import annotations

import atexit
import logging
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from touchpoint_devtools.devservers._common import (
    DevServerUnavailable,
    LocalServer,
    get_free_port,
    tail,
)

logger = logging.getLogger(__name__)

MIN_MAJOR = 15
SYSTEM_USER = "postgres"
ROLE = "touchpoint"
PASSWORD = "touchpoint"  # noqa: S105 - throwaway local cluster with trust authentication
DATABASE = "touchpoint"


@dataclass(frozen=True)
class PostgresBinaries:
    """Where the server programs of one PostgreSQL major version live."""

    bindir: Path
    major: int

    def __getitem__(self, name: str) -> str:
        return str(self.bindir / name)


def _major_of(bindir: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else None


def find_binaries() -> PostgresBinaries | None:
    """The newest installed PostgreSQL >= 15 with initdb, pg_ctl and postgres, or None."""
    candidates = [Path(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"))]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    found: list[PostgresBinaries] = []
    for bindir in candidates:
        if all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            major = _major_of(bindir)
            if major is not None and major >= MIN_MAJOR:
                found.append(PostgresBinaries(bindir=bindir, major=major))
    return max(found, key=lambda b: b.major) if found else None


def install_binaries() -> PostgresBinaries:
    """Find PostgreSQL, installing Debian's package with apt-get when missing and root."""
    binaries = find_binaries()
    if binaries is not None:
        return binaries
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise DevServerUnavailable(
            f"PostgreSQL >= {MIN_MAJOR} server binaries (initdb, pg_ctl, postgres) not found in "
            "/usr/lib/postgresql/*/bin or on PATH: install the 'postgresql' package "
            "(apt-get install postgresql), or use a Docker engine, "
            "or set TOUCHPOINT_DATABASE_URL to a running database"
        )
    logger.info("installing PostgreSQL with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"],
    ):
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise DevServerUnavailable(
                f"{' '.join(command)} failed (exit {result.returncode}):\n{result.stderr[-2000:]}"
            )
    binaries = find_binaries()
    if binaries is None:
        raise DevServerUnavailable(
            f"apt-get installed 'postgresql' but no PostgreSQL >= {MIN_MAJOR} binaries were found"
        )
    return binaries


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SYSTEM_USER)


class LocalPostgres(LocalServer):
    """One PostgreSQL cluster in a temporary folder; stop() leaves no process behind."""

    def __init__(self, workdir: Path | None = None, port: int | None = None) -> None:
        self._owns_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="touchpoint-postgres-"))
        self.port = port
        self.datadir = self.workdir / "data"
        self.log_path = self.workdir / "postgres.log"
        self.version: str | None = None
        self.start_seconds: float | None = None
        self._binaries: PostgresBinaries | None = None
        self._as_root = os.geteuid() == 0

    @property
    def url(self) -> str:
        """SQLAlchemy asyncpg URL of the `touchpoint` database."""
        port = self.started_port()
        return f"postgresql+asyncpg://{ROLE}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}"

    @property
    def running(self) -> bool:
        """True while the postmaster answers pg_ctl status."""
        if self._binaries is None or not self.datadir.is_dir():
            return False
        result = self._run([self._binaries["pg_ctl"], "-D", str(self.datadir), "status"])
        return result.returncode == 0

    @property
    def detail(self) -> str:
        """Version and location of the cluster."""
        return f"PostgreSQL {self.version} (initdb + pg_ctl, {self.datadir})"

    def start(self) -> str:
        """initdb on first start, then pg_ctl start; returns the database URL."""
        started = time.monotonic()
        self._binaries = install_binaries()
        if self.port is None:
            self.port = get_free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._give_to_server_user(self.workdir)
        fresh = not (self.datadir / "PG_VERSION").is_file()
        if fresh:
            self._initdb()
        result = self._run(
            [
                self._binaries["pg_ctl"],
                "-D",
                str(self.datadir),
                "-l",
                str(self.log_path),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        if result.returncode != 0:
            raise DevServerUnavailable(
                f"pg_ctl start failed (exit {result.returncode}): {result.stdout}{result.stderr}\n"
                f"log tail ({self.log_path}):\n{tail(self.log_path)}"
            )
        atexit.register(self.stop)
        try:
            if fresh:
                self._create_role_and_database()
            self.version = self._query("SHOW server_version").strip()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        logger.info(
            "PostgreSQL %s ready on 127.0.0.1:%s in %.1fs",
            self.version,
            self.port,
            self.start_seconds,
        )
        return self.url

    def stop(self) -> None:
        """pg_ctl stop -m fast; data is kept so start() resumes it."""
        if self._binaries is None or not self.datadir.is_dir():
            return
        self._run(
            [self._binaries["pg_ctl"], "-D", str(self.datadir), "-m", "fast", "-w", "stop"],
        )
        self._kill_leftover_postmaster()
        atexit.unregister(self.stop)

    def _run(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program, as the postgres system user when we are root."""
        if self._as_root:
            kwargs.update(user=SYSTEM_USER, group=SYSTEM_USER, extra_groups=[])
        # Own session: a Ctrl-C meant for our process must not reach the postmaster first.
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            **kwargs,
        )

    def _give_to_server_user(self, path: Path) -> None:
        if not self._as_root:
            return
        account = _ensure_system_user()
        path.chmod(0o700)
        os.chown(path, account.pw_uid, account.pw_gid)
        # The server user must be able to walk down to its folder (e.g. through a mkdtemp parent).
        for parent in path.resolve().parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)

    def _initdb(self) -> None:
        assert self._binaries is not None
        result = self._run(
            [
                self._binaries["initdb"],
                "-D",
                str(self.datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )
        if result.returncode != 0:
            raise DevServerUnavailable(
                f"initdb failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
            )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.datadir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "300",
            "shared_buffers": "128MB",
            "logging_collector": "off",
        }
        conf = "".join(f"{key} = {value}\n" for key, value in settings.items())
        with (self.datadir / "postgresql.conf").open("a") as handle:
            handle.write(f"\n# touchpoint devservers\n{conf}")

    def _query(self, sql: str, database: str = "postgres") -> str:
        assert self._binaries is not None
        result = self._run(
            [
                str(self._binaries.bindir / "psql"),
                "-h",
                str(self.datadir),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
        )
        if result.returncode != 0:
            raise DevServerUnavailable(f"psql {sql!r} failed: {result.stderr}")
        return result.stdout

    def _create_role_and_database(self) -> None:
        self._query(f"CREATE ROLE {ROLE} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
        self._query(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")

    def _kill_leftover_postmaster(self) -> None:
        pid_file = self.datadir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return
        try:
            os.kill(pid, 9)
            logger.warning("PostgreSQL did not stop in time; killed postmaster %s", pid)
        except ProcessLookupError:
            pass
