"""Settings of the recommend service (TOUCHPOINT_* variables; see docs/configuration.md)."""

from __future__ import annotations

from touchpoint_common.settings import CommonSettings


class RecommendSettings(CommonSettings):
    """The recommend service's settings: the common ones plus its own."""

    service_name: str = "recommend"
    port: int = 8003
