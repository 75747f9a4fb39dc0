"""Settings of the ingest service (TOUCHPOINT_* variables; see docs/configuration.md)."""

from __future__ import annotations

from touchpoint_common.settings import CommonSettings


class IngestSettings(CommonSettings):
    """The ingest service's settings: the common ones plus its own."""

    service_name: str = "ingest"
    port: int = 8001
