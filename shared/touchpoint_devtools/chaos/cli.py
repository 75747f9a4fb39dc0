"""`python -m touchpoint_devtools.chaos`: kill, restart and stop things under load, then check."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from touchpoint_devtools.chaos.run import ChaosConfig, run_chaos

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    faults: Annotated[int, typer.Option(min=1, help="Faults to inject (every kind from 5).")] = 50,
    duration: Annotated[float, typer.Option(min=5, help="Seconds of load.")] = 900.0,
    rate: Annotated[float, typer.Option(min=0.1, help="Events per second.")] = 30.0,
    customers: Annotated[int, typer.Option(min=1, help="Simulated customers.")] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the traffic and the fault plan.")] = 7,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight at most.")] = 32,
    postgres_pause: Annotated[
        float, typer.Option(min=0, help="Seconds PostgreSQL stays stopped.")
    ] = 30.0,
    workdir: Annotated[
        Path | None, typer.Option(help="Where servers, logs and the report go (default: tmp).")
    ] = None,
) -> None:
    """Run the system under load with faults; print the report; exit 1 on any mismatch."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    config = ChaosConfig(
        faults=faults,
        duration=duration,
        rate=rate,
        customers=customers,
        seed=seed,
        concurrency=concurrency,
        postgres_pause_s=postgres_pause,
        workdir=workdir,
    )
    report = asyncio.run(run_chaos(config))
    typer.echo(report.render())
    raise typer.Exit(code=0 if report.ok else 1)
