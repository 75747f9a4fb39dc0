"""`make schemas` writes contracts/; `make lint` runs `check` (docs/contracts.md).

`python -m touchpoint_devtools.contracts generate` regenerates the committed files from the
models; `... check` fails when the models would break a consumer of the committed schemas.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from touchpoint_devtools.contracts.compat import breaking_changes
from touchpoint_devtools.contracts.wire import get_asyncapi, get_schema_files, get_topics

CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "contracts"
ASYNCAPI_FILE = "asyncapi.yaml"
Directory = Annotated[Path, typer.Option("--dir", help="Where the contract files live.")]
cli = typer.Typer(add_completion=False, no_args_is_help=True)


def render_files() -> dict[str, str]:
    """Every contract file's text by its path under the contracts directory."""
    topics = get_topics()
    files = {
        path: json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        for path, schema in get_schema_files(topics).items()
    }
    files[ASYNCAPI_FILE] = yaml.safe_dump(get_asyncapi(topics), sort_keys=False, width=100)
    return files


def write_files(directory: Path) -> list[str]:
    """Writes the contract files; the paths that changed."""
    changed = []
    for path, text in render_files().items():
        target = directory / path
        if not target.exists() or target.read_text() != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            changed.append(path)
    return changed


def check_files(directory: Path) -> tuple[list[str], list[str]]:
    """(breaking changes, schema files that differ compatibly) from the committed files to
    what the models generate now. A schema file not committed yet is new: nothing to break."""
    breaking: list[str] = []
    stale: list[str] = []
    for path, text in render_files().items():
        target = directory / path
        if not target.exists():
            stale.append(path)
            continue
        if target.read_text() == text:
            continue
        stale.append(path)
        if path.endswith(".json"):
            committed: Any = json.loads(target.read_text())
            breaking += [
                f"{path} {change}" for change in breaking_changes(committed, json.loads(text))
            ]
    return breaking, stale


@cli.command()
def generate(directory: Directory = CONTRACTS_DIR) -> None:
    """Regenerate the JSON Schemas and the AsyncAPI document from the models."""
    changed = write_files(directory)
    typer.echo(
        f"contracts: {len(changed)} file(s) written in {directory}"
        if changed
        else "contracts: up to date"
    )
    for path in changed:
        typer.echo(f"  {path}")


@cli.command()
def check(directory: Directory = CONTRACTS_DIR) -> None:
    """Fail when the models would break a consumer of the committed schemas."""
    breaking, stale = check_files(directory)
    if breaking:
        typer.echo(
            "contracts: BREAKING changes to the wire contract (docs/contracts.md says how "
            "to roll one out: a new topic version, dual-written):",
            err=True,
        )
        for change in breaking:
            typer.echo(f"  {change}", err=True)
        raise typer.Exit(1)
    if stale:
        typer.echo(
            f"contracts: compatible changes in {len(stale)} file(s); `make schemas` "
            "refreshes the committed ones"
        )
    else:
        typer.echo("contracts: the committed schemas match the models")


if __name__ == "__main__":
    cli()
