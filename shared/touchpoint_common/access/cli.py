"""`python -m touchpoint_common.access keys create|list|rotate|revoke` (also `make keys ARGS=...`).

Works on the database of TOUCHPOINT_DATABASE_URL (migrated first). A token is printed once,
at creation or rotation; only its hash is stored.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_common.access.models import ALL_SCOPES, KeyCreated, KeyIn, KeyOut, Scope
from touchpoint_common.access.service import create_key, list_keys, revoke_key, rotate_key
from touchpoint_common.db.engine import create_engine, create_session_factory
from touchpoint_common.db.migrate import run_migrations
from touchpoint_common.settings import CommonSettings

DEV_KEY_FILE = Path(".touchpoint") / "api-key"
API_KEY_ENV = "TOUCHPOINT_API_KEY"
T = TypeVar("T")

app = typer.Typer(help="Touchpoint access control.", no_args_is_help=True)
keys = typer.Typer(help="API keys: create, list, rotate, revoke.", no_args_is_help=True)
app.add_typer(keys, name="keys")
console = Console(width=None if Console().is_terminal else 160)


async def _in_transaction(
    database_url: str, work: Callable[[AsyncSession], Awaitable[T]], *, migrate: bool = True
) -> T:
    """Run `work` in one committed transaction (on a database migrated first unless told not)."""
    engine = create_engine(CommonSettings(database_url=database_url))
    try:
        if migrate:
            await run_migrations(engine)
        async with create_session_factory(engine)() as db_session, db_session.begin():
            return await work(db_session)
    finally:
        await engine.dispose()


async def create_key_at(database_url: str, key: KeyIn) -> KeyCreated:
    """Create a key on an already migrated database, in its own engine (tests, bench, run)."""
    return await _in_transaction(
        database_url, lambda s: create_key(db_session=s, key=key), migrate=False
    )


def _database_url() -> str:
    return CommonSettings().database_url


def bearer_headers(api_key: str | None = None, path: Path = DEV_KEY_FILE) -> dict[str, str]:
    """Authorization for a client: the key given, else TOUCHPOINT_API_KEY, else the dev key file."""
    token = api_key or os.environ.get(API_KEY_ENV)
    if not token and path.is_file():
        token = path.read_text().strip()
    return {"Authorization": f"Bearer {token}"} if token else {}


def write_token(token: str, path: Path) -> None:
    """Write a token to a file only its owner can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(token + "\n")


def create_development_key(database_url: str, path: Path = DEV_KEY_FILE) -> KeyCreated:
    """A key with every scope for local development, written to `path` (`make run` does this)."""
    key = KeyIn(name="development (make run)", scopes=sorted(ALL_SCOPES))
    created = asyncio.run(
        _in_transaction(database_url, lambda s: create_key(db_session=s, key=key))
    )
    write_token(created.token, path)
    return created


def _show(created: KeyCreated, write_to: Path | None) -> None:
    console.print(f"key id {created.key_id} ({created.name}): {', '.join(created.scopes)}")
    if write_to is not None:
        write_token(created.token, write_to)
        console.print(f"token written to {write_to}")
    else:
        print(created.token)


@keys.command("create")
def create_command(
    name: Annotated[str, typer.Option(help="Who or what uses it, e.g. 'till store 12'")],
    scope: Annotated[list[Scope], typer.Option(help="Repeat for several scopes")],
    store: Annotated[list[str] | None, typer.Option(help="Bind to store ids (a till key)")] = None,
    event_type: Annotated[list[str] | None, typer.Option(help="Only these event types")] = None,
    rate: Annotated[int | None, typer.Option(help="Requests per second (default: setting)")] = None,
    write_to: Annotated[Path | None, typer.Option(help="Write the token here, not stdout")] = None,
) -> None:
    """Create a key and print its token (shown only now)."""
    key = KeyIn(
        name=name,
        scopes=scope,
        store_ids=store or None,
        event_types=event_type or None,
        rate_per_second=rate,
    )
    created = asyncio.run(
        _in_transaction(_database_url(), lambda s: create_key(db_session=s, key=key))
    )
    _show(created, write_to)


@keys.command("list")
def list_command(
    all_keys: Annotated[bool, typer.Option("--all", help="Include revoked keys")] = False,
) -> None:
    """List keys (never their secrets)."""
    found: list[KeyOut] = asyncio.run(
        _in_transaction(
            _database_url(), lambda s: list_keys(db_session=s, include_revoked=all_keys)
        )
    )
    table = Table(title="API keys")
    for column in ("key id", "name", "scopes", "stores", "types", "rate/s", "created", "revoked"):
        table.add_column(column, no_wrap=column == "key id")
    for key in found:
        table.add_row(
            key.key_id,
            key.name,
            ", ".join(key.scopes),
            ", ".join(key.store_ids or []) or "-",
            ", ".join(key.event_types or []) or "-",
            str(key.rate_per_second or "-"),
            f"{key.created_at:%Y-%m-%d %H:%M}",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "-",
        )
    console.print(table)


@keys.command("rotate")
def rotate_command(
    key_id: str,
    write_to: Annotated[Path | None, typer.Option(help="Write the token here, not stdout")] = None,
) -> None:
    """Replace a key by a new one with the same scopes; the old one is revoked."""
    created = asyncio.run(
        _in_transaction(_database_url(), lambda s: rotate_key(db_session=s, key_id=key_id))
    )
    if created is None:
        console.print(f"[red]no live key {key_id}[/red]")
        raise typer.Exit(1)
    _show(created, write_to)


@keys.command("revoke")
def revoke_command(key_id: str) -> None:
    """Revoke a key: every service refuses it within the key cache TTL."""
    revoked = asyncio.run(
        _in_transaction(_database_url(), lambda s: revoke_key(db_session=s, key_id=key_id))
    )
    if not revoked:
        console.print(f"[red]no live key {key_id}[/red]")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")
