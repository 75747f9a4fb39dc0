"""Several runs of the bench as one report: spreads, targets met or missed, JSON and PNG plots.

A figure is identified by (section, name) and must keep that identity across runs; its value
over the runs is summarised as median with min and max. Targets are the rows of issue 14's
table, each tied to one figure and a comparison, so "met" is computed, not written by hand.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import Report

Key = tuple[str, str]


@dataclass(frozen=True)
class Spread:
    """One figure over several runs."""

    section: str
    name: str
    unit: str
    values: tuple[float, ...]
    detail: str
    target: str

    @property
    def median(self) -> float:
        """Median over the runs."""
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        """Smallest value over the runs."""
        return min(self.values)

    @property
    def high(self) -> float:
        """Largest value over the runs."""
        return max(self.values)

    def as_json(self) -> dict[str, Any]:
        """Plain data for results.json."""
        return {
            "section": self.section,
            "name": self.name,
            "unit": self.unit,
            "median": self.median,
            "min": self.low,
            "max": self.high,
            "runs": list(self.values),
            "detail": self.detail,
            "target": self.target,
        }


def spreads(runs: list[Report]) -> dict[Key, Spread]:
    """Figures of every run grouped by (section, name), in first-seen order."""
    grouped: dict[Key, list[float]] = {}
    last: dict[Key, tuple[str, str, str]] = {}
    for run in runs:
        for figure in run.figures:
            key = (figure.section, figure.name)
            grouped.setdefault(key, []).append(figure.value)
            last[key] = (figure.unit, figure.detail, figure.target)
    return {
        key: Spread(key[0], key[1], last[key][0], tuple(values), last[key][1], last[key][2])
        for key, values in grouped.items()
    }


@dataclass(frozen=True)
class Target:
    """One row of issue 14's table: a figure, how it compares with the target, and why."""

    row: str
    section: str
    name: str
    comparison: str
    """'>=' or '<='."""
    bound: float
    unit: str

    def met(self, spread: Spread) -> bool:
        """Whether the median meets the target."""
        if self.comparison == ">=":
            return spread.median >= self.bound
        return spread.median <= self.bound

    def gap(self, spread: Spread) -> str:
        """How far the median is from the target, as a factor."""
        if spread.median <= 0 or self.bound <= 0:
            return "n/a"
        factor = (
            self.bound / spread.median if self.comparison == ">=" else spread.median / self.bound
        )
        return "met" if self.met(spread) else f"{factor:.1f}x short"


def fmt(value: float) -> str:
    """A figure with sensible precision."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def spread_text(spread: Spread) -> str:
    """'median (min-max)', or the value and '(1 run)' when only one run measured it."""
    if len(spread.values) == 1:
        return f"{fmt(spread.median)} (1 run)"
    return f"{fmt(spread.median)} ({fmt(spread.low)}-{fmt(spread.high)})"


def targets_table(targets: Iterable[Target], figures: dict[Key, Spread]) -> list[str]:
    """Markdown rows: the issue's table with the measured median, spread and verdict."""
    lines = [
        "| row of issue 14 | figure | target | measured median (min-max) | verdict |",
        "|---|---|---|---|---|",
    ]
    for target in targets:
        spread = figures.get((target.section, target.name))
        bound = f"{target.comparison} {fmt(target.bound)} {target.unit}"
        if spread is None:
            lines.append(f"| {target.row} | `{target.name}` | {bound} | not measured | - |")
            continue
        verdict = "**met**" if target.met(spread) else target.gap(spread)
        lines.append(
            f"| {target.row} | `{target.name}` | {bound} | "
            f"{spread_text(spread)} {spread.unit} | {verdict} |"
        )
    return lines


def figures_table(figures: dict[Key, Spread]) -> list[str]:
    """Markdown rows of every figure, grouped by section."""
    lines: list[str] = []
    section = ""
    for spread in figures.values():
        if spread.section != section:
            section = spread.section
            lines += ["", f"### {section}", "", "| figure | median (min-max) | unit | how |"]
            lines.append("|---|---|---|---|")
        detail = spread.detail.replace("|", "/").replace("\n", " ")
        lines.append(f"| {spread.name} | {spread_text(spread)} | {spread.unit} | {detail} |")
    return lines


@dataclass
class Plot:
    """One PNG: a title, and a function that draws on a matplotlib Axes from the figures."""

    filename: str
    title: str
    draw: Callable[[Any, dict[Key, Spread]], bool]
    """Returns False when the figures it needs are missing (no PNG is written)."""


@dataclass
class Series:
    """Points of one line: x values and the spreads measured at them."""

    label: str
    points: list[tuple[float, Spread]] = field(default_factory=list)


def series_by_pattern(figures: dict[Key, Spread], section: str, pattern: str, label: str) -> Series:
    """Figures of `section` whose name matches `pattern` (one group: the x value)."""
    series = Series(label)
    regex = re.compile(pattern)
    for (fig_section, name), spread in figures.items():
        match = regex.fullmatch(name)
        if fig_section == section and match:
            series.points.append((float(match.group(1).replace(",", "")), spread))
    series.points.sort(key=lambda point: point[0])
    return series


def draw_series(axes: Any, series: list[Series], *, log_x: bool, log_y: bool) -> bool:
    """Median lines with min-max error bars; False when no series has a point."""
    drawn = False
    for line in series:
        if not line.points:
            continue
        xs = [x for x, _ in line.points]
        medians = [spread.median for _, spread in line.points]
        below = [spread.median - spread.low for _, spread in line.points]
        above = [spread.high - spread.median for _, spread in line.points]
        axes.errorbar(xs, medians, yerr=[below, above], marker="o", capsize=3, label=line.label)
        drawn = True
    if drawn:
        if log_x:
            axes.set_xscale("log")
        if log_y:
            axes.set_yscale("log")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=8)
    return drawn


def draw_bars(axes: Any, bars: Sequence[tuple[str, Spread | None]], unit: str) -> bool:
    """Horizontal bars of medians with min-max whiskers; False when none was measured."""
    present = [(label, spread) for label, spread in bars if spread is not None]
    if not present:
        return False
    labels = [label for label, _ in present]
    medians = [spread.median for _, spread in present]
    errors = [
        [spread.median - spread.low for _, spread in present],
        [spread.high - spread.median for _, spread in present],
    ]
    axes.barh(labels, medians, xerr=errors, capsize=3, color="#4c72b0")
    axes.invert_yaxis()
    axes.set_xlabel(unit)
    axes.grid(True, axis="x", alpha=0.3)
    for index, (_, spread) in enumerate(present):
        axes.text(spread.high, index, f"  {fmt(spread.median)}", va="center", fontsize=8)
    return True


def write_plots(plots: list[Plot], figures: dict[Key, Spread], directory: Path) -> list[Path]:
    """Each plot whose figures exist, as a PNG in `directory`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []
    for plot in plots:
        fig, axes = plt.subplots(figsize=(8, 4.5))
        if plot.draw(axes, figures):
            axes.set_title(plot.title, fontsize=10)
            fig.tight_layout()
            path = directory / plot.filename
            fig.savefig(path, dpi=110)
            written.append(path)
        plt.close(fig)
    return written


def write_json(path: Path, runs: list[Report], figures: dict[Key, Spread]) -> None:
    """Every run's raw figures and facts, and the aggregated spreads."""
    data = {
        "runs": [run.as_json() for run in runs],
        "figures": [spread.as_json() for spread in figures.values()],
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
