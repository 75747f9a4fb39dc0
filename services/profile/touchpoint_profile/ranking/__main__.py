"""`python -m touchpoint_profile.ranking` (`make rank`): run the ranking job once, now."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from touchpoint_common.runtime import Runtime
from touchpoint_profile.ranking.service import run_ranking
from touchpoint_profile.settings import ProfileSettings


async def main() -> int:
    """Compute, store and publish one ranking; print what happened; 1 when nothing ran."""
    settings = ProfileSettings()
    runtime = Runtime(settings)
    await runtime.start()
    try:
        result = await run_ranking(
            sessions=runtime.sessions,
            publisher=runtime.get_publisher(),
            settings=settings,
            now=datetime.now(UTC),
        )
    finally:
        await runtime.stop()
    if result.run is None:
        print(f"no ranking: {result.reason}")
        return 1
    ranking, figures = result.run.ranking, result.run.figures
    print(
        f"ranking v{ranking.version} over {figures.buyers} buyers in "
        f"{result.run.duration_s:.1f}s (published: {result.published})"
    )
    print(ranking.model_dump_json(indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
