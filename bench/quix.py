"""Quix Streams: the same backlog the profile consumer folded, through a minimal Quix Streams
app (bench/quix_app.py), exactly-once and at-least-once; its rates and the fold's ratio to them.

Each run is a subprocess with its own consumer group (from the earliest offset) and its own
RocksDB state directory, so its CPU is its own and it cannot disturb the bench process. The
app stops once it has processed every partition up to the end offsets measured before it
started, and reports its timings as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from bench import profile
from bench.environment import BenchEnvironment
from bench.kafka_reference import SECTION
from bench.stats import Report
from touchpoint_common.kafka.admin import create_admin
from touchpoint_common.settings import CommonSettings
from touchpoint_profile.settings import ProfileSettings

GUARANTEES = {"exactly-once": "eos", "at-least-once": "alos"}
FOLD = f"consumer fold to PostgreSQL, batch {ProfileSettings().consumer_batch_max_records}"
"""bench/profile.py's consumer figure the ratios divide: the real ProfileConsumer at the
service's default batch size, timed from partition assignment to caught up with the backlog's
end offsets."""
RUN_TIMEOUT_S = 300.0
ROOT = Path(__file__).resolve().parent.parent
"""The repository root: bench.quix_app is run as a module from there."""
QUIX_PYTHON_ENV = "TOUCHPOINT_QUIX_PYTHON"
DEFAULT_QUIX_PYTHON = ROOT / ".venv-quix" / "bin" / "python"
"""`make quix` makes this venv: quixstreams pins pydantic below the services' version, so the
app runs on an interpreter of its own (bench/quix-requirements.txt)."""


def quix_python() -> Path:
    """The interpreter with quixstreams installed (TOUCHPOINT_QUIX_PYTHON or .venv-quix)."""
    return Path(os.environ.get(QUIX_PYTHON_ENV) or DEFAULT_QUIX_PYTHON)


@dataclass(frozen=True)
class QuixRun:
    """What one app run reported, plus the wall time the parent saw from spawn to exit."""

    processed: int
    wall_s: float
    import_s: float
    start_to_first_s: float
    first_to_last_s: float
    last_to_done_s: float
    cpu_s: float


async def run_app(
    settings: CommonSettings,
    *,
    topic: str,
    group: str,
    guarantee: str,
    ends: dict[int, int],
    workdir: Path,
) -> QuixRun:
    """Spawn bench.quix_app until it processed up to `ends`; its timings (RuntimeError if not)."""
    log_path = workdir / f"{group}.log"
    command = [
        str(quix_python()),
        "-m",
        "bench.quix_app",
        "--bootstrap",
        settings.kafka_bootstrap,
        "--topic",
        topic,
        "--group",
        group,
        "--guarantee",
        guarantee,
        "--state-dir",
        str(workdir / f"{group}-state"),
        "--ends",
        json.dumps(ends),
    ]
    environment = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.perf_counter()
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            env=environment,
            cwd=ROOT,
        )
        try:
            stdout, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise RuntimeError(
                f"Quix app {guarantee} did not finish in {RUN_TIMEOUT_S:.0f} s; "
                f"log: {log_path.read_text(errors='replace')[-3000:]}"
            ) from None
    wall_s = time.perf_counter() - started
    lines = stdout.decode().strip().splitlines()
    if process.returncode != 0 or not lines:
        raise RuntimeError(
            f"Quix app {guarantee} exited with {process.returncode}; "
            f"log: {log_path.read_text(errors='replace')[-3000:]}"
        )
    result = json.loads(lines[-1])
    return QuixRun(
        processed=int(result["processed"]),
        wall_s=wall_s,
        import_s=float(result["import_s"]),
        start_to_first_s=float(result["start_to_first_s"]),
        first_to_last_s=float(result["first_to_last_s"]),
        last_to_done_s=float(result["last_to_done_s"]),
        cpu_s=float(result["cpu_s"]),
    )


async def delete_group_topics(settings: CommonSettings, group: str) -> None:
    """Drop the changelog topics Quix created for `group` (its state is not needed after)."""
    admin = create_admin(settings)
    await admin.start()
    try:
        owned = [name for name in await admin.list_topics() if group in name]
        if owned:
            await admin.delete_topics(owned)
    finally:
        await admin.close()


async def bench_quix(report: Report, env: BenchEnvironment, *, seed: int, quick: bool) -> None:
    """The Quix app on the profile backlog topic, per processing guarantee; rates and ratios."""
    if not quix_python().exists():
        report.facts["quix"] = f"skipped: no {quix_python()} (`make quix` creates it)"
        return
    settings = env.settings
    topic = profile.backlog_topic(settings)
    ends = await profile.end_offsets(settings, topic)
    total = sum(ends.values())
    fold = report.find(profile.SECTION, FOLD)
    for guarantee, short in GUARANTEES.items():
        group = f"quix-bench-{env.run_id}-{short}"
        try:
            run = await run_app(
                settings,
                topic=topic,
                group=group,
                guarantee=guarantee,
                ends=ends,
                workdir=env.workdir,
            )
        finally:
            await delete_group_topics(settings, group)
        facts = (
            f"{run.processed} records of {total} on {len(ends)} partitions; process CPU "
            f"{run.cpu_s:.1f} s = {1e6 * run.cpu_s / max(1, run.processed):.0f} us/event"
        )
        processing = run.processed / run.first_to_last_s if run.first_to_last_s > 0 else 0.0
        report.add(
            SECTION,
            f"Quix Streams {guarantee}",
            processing,
            "events/s",
            f"{facts}; {run.first_to_last_s:.1f} s from the first record reaching the app's "
            "code to the last one processed: no process start, group join or final commit, "
            "like the profile consumer figure (timed from partition assignment)",
        )
        report.add(
            SECTION,
            f"Quix Streams {guarantee}, process start to done",
            run.processed / run.wall_s,
            "events/s",
            f"{facts}; {run.wall_s:.1f} s from spawn to exit: {run.start_to_first_s:.1f} s "
            f"before the first record (imports and app setup {run.import_s:.1f} s, then topic "
            f"checks, group join, state recovery), {run.last_to_done_s:.1f} s final checkpoint "
            "commit and close after the last",
        )
        if fold is not None and processing > 0:
            report.add(
                SECTION,
                f"profile consumer fold / Quix {guarantee}",
                fold.value / processing,
                "x",
                f"'{FOLD}' ({fold.value:,.0f} events/s, same topic, before the freshness "
                f"events were added) over 'Quix Streams {guarantee}' (first to last record, "
                f"{processing:,.0f} events/s)",
                target=">= 1.0x" if guarantee == "exactly-once" else "",
            )
