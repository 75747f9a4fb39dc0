"""Settings of the profile service (TOUCHPOINT_* variables; see docs/configuration.md)."""

from __future__ import annotations

from touchpoint_common.settings import CommonSettings


class ProfileSettings(CommonSettings):
    """The profile service's settings: the common ones plus its own."""

    service_name: str = "profile"
    port: int = 8002
