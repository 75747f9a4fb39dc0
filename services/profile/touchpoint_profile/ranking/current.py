"""The current ranking as the views read it: the newest stored version, cached briefly.

Kept apart from the job (service.py) so that readers (the view, recommend through
`touchpoint_profile.read`) import no job code and no job metrics.
"""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_profile.fold.ranking import BaseRanking
from touchpoint_profile.ranking.models import rankings

CACHE_S = 30.0
"""How long a process reuses the current ranking before reading the table again."""

_cache: tuple[float, BaseRanking | None] | None = None


def clear_ranking_cache() -> None:
    """Forget the cached ranking (after a run in this process; in tests)."""
    global _cache
    _cache = None


async def get_current_ranking(*, db_session: AsyncSession) -> BaseRanking | None:
    """The newest ranking (cached for CACHE_S per process); None before the first run."""
    global _cache
    clock = time.monotonic()
    if _cache is not None and clock - _cache[0] < CACHE_S:
        return _cache[1]
    result = await db_session.execute(
        select(rankings.c.ranking).order_by(rankings.c.version.desc()).limit(1)
    )
    stored = result.scalar_one_or_none()
    ranking = None if stored is None else BaseRanking.model_validate(stored)
    _cache = (clock, ranking)
    return ranking
