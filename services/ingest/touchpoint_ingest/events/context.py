"""What accepting events needs, built once at start-up and shared by every pass."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from touchpoint_common.identity.pii import KeyRing
from touchpoint_common.identity.store import IdentityCache
from touchpoint_common.kafka.publisher import Publisher
from touchpoint_ingest.events.owner import ClaimOwner
from touchpoint_ingest.events.validation import Rules
from touchpoint_ingest.settings import IngestSettings

SERVICE = "ingest"


@dataclass(kw_only=True)
class IngestContext:
    """Settings, database sessions, the publisher, the identity cache and keys, the rules,
    and this process's claim owner."""

    settings: IngestSettings
    sessions: async_sessionmaker[AsyncSession]
    publisher: Publisher
    cache: IdentityCache
    kek: KeyRing
    rules: Rules
    owner: ClaimOwner
    background: set[asyncio.Task[None]] = field(default_factory=set)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run follow-up work in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
