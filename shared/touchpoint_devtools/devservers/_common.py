"""Helpers shared by the local server runners: ports, waiting, stopping, errors."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

T = TypeVar("T")

CACHE_ENV = "TOUCHPOINT_DEVSERVERS_CACHE"


class DevServerUnavailable(RuntimeError):
    """A server cannot be started on this machine; the message names the missing piece."""


def get_cache_dir() -> Path:
    """Where downloaded server artefacts live between runs (~/.cache/touchpoint by default)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "touchpoint"


def get_free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def can_bind(port: int, host: str = "127.0.0.1") -> bool:
    """True when a server could listen on host:port now (nothing else listens there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers do: a closed connection's TIME_WAIT must not count as busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def prefer_port(preferred: int, *, what: str) -> tuple[int, str]:
    """`preferred` when free (note ""), else a free port and a note saying why."""
    if can_bind(preferred) and not is_port_open(preferred):
        return preferred, ""
    port = get_free_port()
    return port, f"{what} on free port {port}: {preferred} is in use"


def is_port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class LocalServer(ABC):
    """A server run from local binaries in a work folder: start, stop, close, `with`."""

    workdir: Path
    port: int | None
    _owns_workdir: bool

    def started_port(self) -> int:
        """The port the server listens on; raises before the first start()."""
        if self.port is None:
            raise RuntimeError(f"{type(self).__name__} has not been started")
        return self.port

    @property
    @abstractmethod
    def detail(self) -> str:
        """What runs: product, version and how it was obtained."""

    @abstractmethod
    def start(self) -> str:
        """Start the server; return its address."""

    @abstractmethod
    def stop(self) -> None:
        """Stop the server; its data is kept so start() resumes it."""

    def close(self) -> None:
        """Stop and delete the work folder when this object created it."""
        self.stop()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def run_coroutine_in_thread(make: Callable[[], Awaitable[T]], timeout: float) -> T:
    """Run a coroutine on a private event loop; works whether or not a loop already runs here."""

    async def bounded() -> T:
        return await asyncio.wait_for(make(), timeout)

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, bounded()).result()


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file (empty when it does not exist)."""
    try:
        content = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return "\n".join(content[-lines:])


def terminate_group(process: subprocess.Popen[bytes], *, grace_seconds: float = 30.0) -> None:
    """SIGTERM the process's group, wait, then SIGKILL: nothing of it is left running."""
    if process.poll() is not None:
        return
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def wait_until(check: Callable[[], bool], *, timeout: float, interval: float = 0.25) -> bool:
    """Poll `check` until it is true or the timeout passes; return its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
