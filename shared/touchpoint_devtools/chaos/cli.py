"""`python -m touchpoint_devtools.chaos`: kill, restart and stop things under load, then check."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from touchpoint_devtools.chaos.run import ChaosConfig, run_chaos
from touchpoint_devtools.generator.cli import (
    ConcurrencyOption,
    CustomersOption,
    DurationOption,
    RateOption,
    SeedOption,
)

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    faults: Annotated[
        int, typer.Option(min=1, help="Faults, shared evenly by the five kinds.")
    ] = 50,
    duration: DurationOption = 900.0,
    rate: RateOption = 30.0,
    customers: CustomersOption = 300,
    seed: SeedOption = 7,
    concurrency: ConcurrencyOption = 32,
    postgres_pause: Annotated[
        float, typer.Option(min=0, help="Seconds PostgreSQL stays stopped.")
    ] = 30.0,
    workdir: Annotated[
        Path | None, typer.Option(help="Where servers, logs and the report go (default: tmp).")
    ] = None,
) -> None:
    """Run the system under load with faults; print the report; exit 1 on any mismatch."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    load = ChaosConfig(duration=duration, rate=rate, customers=customers, seed=seed)
    config = replace(load, faults=faults, concurrency=concurrency, workdir=workdir)
    config = replace(config, postgres_pause_s=postgres_pause)
    report = asyncio.run(run_chaos(config))
    typer.echo(report.render())
    raise typer.Exit(code=0 if report.ok else 1)
