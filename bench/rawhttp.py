"""A minimal keep-alive HTTP/1.1 client for load generation: pre-encoded requests, little CPU.

httpx spends a few milliseconds of CPU per request; at 64 requests in flight on the same two
cores as the service it, not the service, sets the pace. This client writes prepared bytes
and reads the status line, headers and a Content-Length body, nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit


class RawConnection:
    """One keep-alive connection to `url`'s host and port."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        """Send one prepared request; (status, body) of its response.

        Reconnects first when the server closed the idle connection (uvicorn closes keep-alive
        connections idle for 5 s)."""
        if self.writer is None or self.reader is None or self.reader.at_eof():
            await self.close()
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    def abort(self) -> None:
        """Drop the connection at once (after a failure or a cancellation mid-request)."""
        if self.writer is not None:
            self.writer.transport.abort()
            self.writer = self.reader = None

    async def close(self) -> None:
        """Close the connection."""
        if self.writer is not None:
            writer, self.writer, self.reader = self.writer, None, None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def prepare_post(url: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """The bytes of a keep-alive POST of a JSON body."""
    host = urlsplit(url).netloc
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
        "",
        "",
    ]
    return "\r\n".join(lines).encode() + body


def prepare_get(url: str, path: str, headers: dict[str, str]) -> bytes:
    """The bytes of a keep-alive GET."""
    host = urlsplit(url).netloc
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        *(f"{name}: {value}" for name, value in headers.items()),
        "",
        "",
    ]
    return "\r\n".join(lines).encode()


class RawPool:
    """`size` keep-alive connections for at most `size` requests in flight (a closed loop, or
    the open-loop generator's cap on outstanding requests)."""

    def __init__(self, url: str, size: int) -> None:
        self.free = [RawConnection(url) for _ in range(size)]
        self.all = list(self.free)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        """Send one prepared request on a free connection; (status, body)."""
        connection = self.free.pop()
        try:
            return await connection.request(raw)
        except BaseException:
            connection.abort()  # failed or cancelled mid-response: the next request reconnects
            raise
        finally:
            self.free.append(connection)

    async def close(self) -> None:
        """Close every connection."""
        for connection in self.all:
            await connection.close()
