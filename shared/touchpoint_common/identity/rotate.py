"""`python -m touchpoint_common.identity.rotate {kek,hmac,all}`: finish a key rotation.

Procedure (docs/security.md, "Keys, rotation and erasure"): deploy every service with the new
key as current and the old one under its id in TOUCHPOINT_PII_KEKS_OLD /
TOUCHPOINT_PII_HMAC_KEYS_OLD (dual-read: nothing is lost meanwhile), run this command, then
remove the old key from the settings.
  kek   rewraps every data key under the current KEK, bound to its customer id.
  hmac  re-digests every identifier under the current HMAC key, opening the sealed copy of
        its value with the customer's data key (raw identifiers are never stored).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from touchpoint_common.db.engine import create_engine, create_session_factory
from touchpoint_common.identity import store
from touchpoint_common.settings import CommonSettings

app = typer.Typer(help="Rewrap data keys and re-digest identifiers under the current keys.")
Batch = Callable[[AsyncSession, tuple[str, ...] | None], Awaitable[store.RotationReport]]


class Target(StrEnum):
    """Which key the command finishes rotating."""

    KEK = "kek"
    HMAC = "hmac"
    ALL = "all"


async def run_batches(sessions: async_sessionmaker[AsyncSession], batch: Batch) -> tuple[int, int]:
    """Run `batch` until done, one transaction each; returns (rewritten, skipped)."""
    rewritten = skipped = 0
    after: tuple[str, ...] | None = None
    while True:
        async with sessions() as session, session.begin():
            report = await batch(session, after)
        rewritten, skipped = rewritten + report.rewritten, skipped + report.skipped
        if report.after is None:
            return rewritten, skipped
        after = report.after


async def rotate(
    settings: CommonSettings,
    sessions: async_sessionmaker[AsyncSession],
    target: Target,
    *,
    batch_size: int = 500,
) -> dict[str, tuple[int, int]]:
    """Rewrap and/or re-digest everything not under the current keys; counts per step."""
    kek, hmac_key = settings.kek_ring(), settings.hmac_key_ring()
    done: dict[str, tuple[int, int]] = {}
    if target in (Target.KEK, Target.ALL):

        async def rewrap(
            session: AsyncSession, after: tuple[str, ...] | None
        ) -> store.RotationReport:
            return await store.rewrap_data_keys(
                db_session=session, kek=kek, after=after or ("",), batch_size=batch_size
            )

        done["kek"] = await run_batches(sessions, rewrap)
    if target in (Target.HMAC, Target.ALL):

        async def redigest(
            session: AsyncSession, after: tuple[str, ...] | None
        ) -> store.RotationReport:
            return await store.redigest_identifiers(
                db_session=session,
                kek=kek,
                hmac_key=hmac_key,
                after=after or ("", ""),
                batch_size=batch_size,
            )

        done["hmac"] = await run_batches(sessions, redigest)
    return done


async def _main(target: Target, batch_size: int) -> dict[str, tuple[int, int]]:
    settings = CommonSettings()
    engine = create_engine(settings)
    try:
        return await rotate(settings, create_session_factory(engine), target, batch_size=batch_size)
    finally:
        await engine.dispose()


@app.command()
def main(
    target: Annotated[Target, typer.Argument(help="kek, hmac or all")] = Target.ALL,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per transaction.")] = 500,
) -> None:
    """Rewrite identity rows still under an older key so the older key can be removed."""
    for step, (rewritten, skipped) in asyncio.run(_main(target, batch_size)).items():
        typer.echo(f"{step}: {rewritten} rewritten, {skipped} left for dual-read")


if __name__ == "__main__":
    app()
