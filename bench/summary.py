"""Issue 14's targets and the plots of `make bench`, and the markdown report built from them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from matplotlib.ticker import NullFormatter

from bench.report import (
    Key,
    Plot,
    Spread,
    Target,
    draw_bars,
    draw_series,
    figures_table,
    fmt,
    series_by_pattern,
    targets_table,
    write_json,
    write_plots,
)
from bench.stats import Report

PERF_TEST = "kafka-producer-perf-test, 520 B, acks=all, idempotent"

TARGETS = (
    Target(
        "ingest batch x100, 4 in flight",
        "ingest",
        "POST /v1/events/batch x100 4 in flight throughput",
        ">=",
        10_000,
        "events/s",
    ),
    Target(
        "ingest batch vs the broker",
        "reference",
        "ingest batch x100 / producer-perf-test",
        ">=",
        0.08,
        "x",
    ),
    Target(
        "ingest singles, 64 in flight",
        "ingest",
        "POST /v1/events 64 in flight throughput",
        ">=",
        1_500,
        "events/s",
    ),
    Target(
        "ingest singles, 64 in flight",
        "ingest",
        "POST /v1/events 64 in flight p99",
        "<=",
        100,
        "ms",
    ),
    Target(
        "fold vs Quix Streams (exactly-once)",
        "reference",
        "profile consumer fold / Quix exactly-once",
        ">=",
        1.0,
        "x",
    ),
    Target("view read, sequential", "profile", "GET view, typical customer p99", "<=", 5, "ms"),
    Target(
        "view reads per process",
        "profile",
        "GET view, typical customer, 16 in flight throughput",
        ">=",
        2_000,
        "reads/s",
    ),
    Target(
        "view cost vs history",
        "profile",
        "GET view p50, 10,000 / 10 events",
        "<=",
        1.2,
        "x",
    ),
    Target(
        "state of a heavy customer",
        "profile",
        "stored state, 10000 events over 365 d",
        "<=",
        32,
        "KiB",
    ),
    Target(
        "next-offers, sequential",
        "recommend",
        "next-offers, typical customer p99",
        "<=",
        15,
        "ms",
    ),
    Target(
        "next-offers per process",
        "recommend",
        "next-offers, typical customer, 16 in flight throughput",
        ">=",
        1_000,
        "decisions/s",
    ),
    Target(
        "freshness at 2,000 events/s",
        "freshness",
        "freshness @ 2000/s p99",
        "<=",
        250,
        "ms",
    ),
    # The p99 above is only the target's when ingest took the offered rate.
    Target(
        "freshness at 2,000 events/s",
        "freshness",
        "freshness @ 2000/s achieved ingest",
        ">=",
        2_000,
        "events/s",
    ),
)


def _get(figures: dict[Key, Spread], section: str, name: str) -> Spread | None:
    return figures.get((section, name))


def _throughput(axes: Any, figures: dict[Key, Spread]) -> bool:
    bars = [
        (
            "kafka-producer-perf-test",
            _get(figures, "reference", "kafka-producer-perf-test, 520 B, acks=all, idempotent"),
        ),
        ("Quix Streams exactly-once", _get(figures, "reference", "Quix Streams exactly-once")),
        ("Quix Streams at-least-once", _get(figures, "reference", "Quix Streams at-least-once")),
        (
            "profile fold to PostgreSQL",
            _get(figures, "profile", "consumer fold to PostgreSQL, batch 1000"),
        ),
        (
            "ingest batch x100, 4 in flight",
            _get(figures, "ingest", "POST /v1/events/batch x100 4 in flight throughput"),
        ),
        (
            "ingest single, 64 in flight",
            _get(figures, "ingest", "POST /v1/events 64 in flight throughput"),
        ),
    ]
    drawn = draw_bars(axes, bars, "events/s (median, min-max whiskers)")
    if drawn:
        axes.set_xscale("log")
        axes.xaxis.set_minor_formatter(NullFormatter())
    return drawn


def _latency(axes: Any, figures: dict[Key, Spread]) -> bool:
    bars: list[tuple[str, Spread | None]] = []
    for section, name in (
        ("ingest", "POST /v1/events sequential"),
        ("profile", "GET view, typical customer"),
        ("profile", "GET lookup?phone= (call centre)"),
        ("recommend", "next-offers, typical customer"),
    ):
        for label in ("p50", "p99"):
            bars.append((f"{name} {label}", _get(figures, section, f"{name} {label}")))
    return draw_bars(axes, bars, "ms, sequential (median, min-max whiskers)")


def _archaeology(axes: Any, figures: dict[Key, Spread]) -> bool:
    series = [
        series_by_pattern(
            figures,
            "archaeology",
            r"raw events -> view, ([\d,]+) events p50",
            "raw events -> view (p50)",
        ),
        series_by_pattern(
            figures,
            "archaeology",
            r"stored state -> view, ([\d,]+) events p50",
            "stored state -> view (p50)",
        ),
        series_by_pattern(
            figures,
            "archaeology",
            r"GET view over HTTP, ([\d,]+) events p50",
            "GET view over HTTP (p50)",
        ),
    ]
    drawn = draw_series(axes, series, log_x=True, log_y=True)
    if drawn:
        axes.set_xlabel("events of history")
        axes.set_ylabel("ms")
    return drawn


def _open_loop(axes: Any, figures: dict[Key, Spread]) -> bool:
    series = [
        series_by_pattern(
            figures, "open loop", r"POST /v1/events @ (\d+)/s p99", "POST /v1/events p99"
        ),
        series_by_pattern(figures, "open loop", r"GET view @ (\d+)/s p99", "GET view p99"),
        series_by_pattern(figures, "open loop", r"next-offers @ (\d+)/s p99", "next-offers p99"),
        series_by_pattern(
            figures, "freshness", r"freshness @ (\d+)/s p99", "freshness 202 -> view p99"
        ),
    ]
    drawn = draw_series(axes, series, log_x=False, log_y=True)
    if drawn:
        axes.set_xlabel("offered rate (requests or events per second)")
        axes.set_ylabel("ms (latency from the scheduled send)")
    return drawn


def _state(axes: Any, figures: dict[Key, Spread]) -> bool:
    series = [
        series_by_pattern(
            figures, "profile", r"state size, (\d+) events over 365 d", "state, 365 d (pure fold)"
        ),
        series_by_pattern(
            figures, "profile", r"state size, (\d+) events over 30 d", "state, 30 d (pure fold)"
        ),
        series_by_pattern(
            figures, "profile", r"stored state, (\d+) events over 365 d", "stored state, 365 d"
        ),
    ]
    drawn = draw_series(axes, series, log_x=True, log_y=False)
    if drawn:
        axes.axhline(32, color="red", linestyle="--", linewidth=1, label="target 32 KiB")
        axes.set_xlabel("events of history")
        axes.set_ylabel("KiB")
    return drawn


def _memory(axes: Any, figures: dict[Key, Spread]) -> bool:
    bars = [
        (name.removeprefix("RSS "), spread)
        for (section, name), spread in figures.items()
        if section == "memory" and name.startswith("RSS ")
    ]
    return draw_bars(axes, bars, "MiB")


PLOTS = [
    Plot("throughput.png", "Throughput against the references (log scale)", _throughput),
    Plot("latency.png", "Sequential latency", _latency),
    Plot("archaeology.png", "No archaeology: raw events vs the view, by history", _archaeology),
    Plot("open-loop.png", "Open loop: p99 at fixed offered rates", _open_loop),
    Plot("state.png", "State size by history", _state),
    Plot("memory.png", "Memory (RSS) of each service under load", _memory),
]


def add_derived(report: Report) -> None:
    """Figures computed from others of the same run (ratios the targets are stated in)."""
    values = {(f.section, f.name): f.value for f in report.figures}
    light = values.get(("profile", "GET view, customer with 10 events p50"))
    heavy = values.get(("profile", "GET view, customer with 10000 events p50"))
    if light and heavy:
        report.add(
            "profile",
            "GET view p50, 10,000 / 10 events",
            heavy / light,
            "x",
            "p50 of the 10,000-event customer's view over the 10-event customer's, same run",
            target="<= 1.2x",
        )


def _run_facts(index: int, run: Report) -> str:
    facts = run.facts
    return (
        f"| {index + 1} | {facts.get('when', '')} | {facts.get('wall_seconds', '')} | "
        f"{facts.get('load_average_1_5_15_before', '')} | {facts.get('load_1m_during', '')} | "
        f"{facts.get('machine_cpu_busy_percent_during', '')} |"
    )


def write_report(runs: list[Report], directory: Path, figures: dict[Key, Spread]) -> Path:
    """docs/bench/: report.md, results.json and the PNG plots of these runs."""
    directory.mkdir(parents=True, exist_ok=True)
    write_json(directory / "results.json", runs, figures)
    plots = write_plots(PLOTS, figures, directory)
    first = runs[0].facts
    lines = [
        "# Bench report (generated by `make bench`; do not edit by hand)",
        "",
        f"Written {datetime.now(UTC).isoformat(timespec='seconds')} from {len(runs)} run(s) "
        f"of `python -m bench.run` (seed {first.get('seed')}, quick={first.get('quick')}, "
        f"{first.get('topic_partitions')} partitions). Machine: {first.get('machine')}, "
        f"Python {first.get('python')}. {first.get('services', '')}.",
        "",
        "Every figure is the **median of the runs, with the smallest and largest in brackets**. "
        "Nothing here is asserted by a test. How each figure is measured, and what the gaps "
        "come from: [benchmarks.md](../benchmarks.md).",
        "",
        "## The machine during each run",
        "",
        "| run | finished | wall s | load 1/5/15 min before | load 1 min during (mean / max) "
        "| machine CPU busy % during (mean) |",
        "|---|---|---|---|---|---|",
        *(_run_facts(index, run) for index, run in enumerate(runs)),
        "",
        "## Issue 14's targets",
        "",
        *targets_table(TARGETS, figures),
        "",
        "## Plots",
        "",
        *(f"![{path.stem}]({path.name})" for path in plots),
        "",
        "## Every figure",
        *figures_table(figures),
        "",
        "## Facts of the first run",
        "",
        *(
            f"- {name}: {fmt(value) if isinstance(value, float) else value}"
            for name, value in first.items()
        ),
        "",
    ]
    path = directory / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
