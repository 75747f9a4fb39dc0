"""Config admin from the shell: `python -m touchpoint_recommend.admin check|show|push|reload`.

Change the catalogue by editing a YAML file, `check` it, then `push` it: the service stores it
in PostgreSQL as a new version (author: the API key's id) and every replica picks it up. A
config that fails `check` is also refused by the service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from touchpoint_common.access.cli import bearer_headers
from touchpoint_recommend.domain.config import ConfigError
from touchpoint_recommend.loader import DEFAULT_CONFIG_PATH, load_config

app = typer.Typer(help="Recommend config: validate, show, reload a running service.")
console = Console()
PathArgument = Annotated[Path, typer.Argument(help="the YAML config file")]


@app.command()
def check(path: PathArgument = DEFAULT_CONFIG_PATH) -> None:
    """Validate a config file; exit 1 with the problem when it is invalid."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        console.print(f"[red]invalid[/red] {path}: {exc}")
        raise typer.Exit(1) from exc
    console.print(
        f"[green]valid[/green] {path}: version {config.fingerprint()}, "
        f"{len(config.catalogue)} offers, {len(config.segments)} segments"
    )


@app.command()
def show(path: PathArgument = DEFAULT_CONFIG_PATH) -> None:
    """Print the catalogue and the segment -> strategy mapping."""
    config = load_config(path)
    offers = Table(title="Catalogue")
    for column in ("id", "kind", "channels", "value", "title"):
        offers.add_column(column)
    for offer in config.catalogue:
        offers.add_row(
            offer.id, offer.kind, ",".join(offer.channels), f"{offer.business_value:g}", offer.title
        )
    segments = Table(title="Segments (first match wins)")
    for column in ("segment", "rules", "strategy", "fixed priority"):
        segments.add_column(column)
    for segment in config.segments:
        strategy = config.strategy_for(segment.id)
        rules = "; ".join(f"{r.field} {r.op} {r.value}" for r in segment.when) or "everyone"
        segments.add_row(segment.id, rules, strategy.id, ", ".join(strategy.priority))
    console.print(offers)
    console.print(segments)


UrlOption = Annotated[str, typer.Option(help="the recommend service")]
KeyOption = Annotated[
    str | None, typer.Option(envvar="TOUCHPOINT_API_KEY", help="an API key with admin scope")
]
LOCAL_URL = "http://127.0.0.1:8003"


def _headers(api_key: str | None) -> dict[str, str]:
    """The Authorization header: the given key, else TOUCHPOINT_API_KEY or the dev key file."""
    return bearer_headers(api_key)


def _report(response: httpx.Response) -> None:
    """Print what is in force, or the refusal and exit 1."""
    if response.status_code != 200:
        console.print(f"[red]refused[/red] ({response.status_code}): {response.json()['detail']}")
        raise typer.Exit(1)
    status = response.json()["status"]
    console.print(
        f"in force: version {status['version']} (stored version {status['revision']} by "
        f"{status['author']}; changed: {response.json()['changed']})"
    )


@app.command()
def push(path: PathArgument, url: UrlOption = LOCAL_URL, api_key: KeyOption = None) -> None:
    """Validate a config file, then store it as the new version every replica puts in force."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        console.print(f"[red]invalid[/red] {path}: {exc}")
        raise typer.Exit(1) from exc
    document = config.model_dump(mode="json")
    _report(httpx.put(f"{url}/v1/admin/config", json=document, headers=_headers(api_key)))


@app.command()
def reload(url: UrlOption = LOCAL_URL, api_key: KeyOption = None) -> None:
    """Ask a running service to put the newest stored version in force now."""
    _report(httpx.post(f"{url}/v1/admin/config/reload", timeout=10, headers=_headers(api_key)))


if __name__ == "__main__":
    app()
