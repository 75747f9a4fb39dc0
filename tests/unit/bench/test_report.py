"""The bench report: spreads over runs, targets judged on the median, the files it writes."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bench.report import Spread, Target, spreads
from bench.stats import Report
from bench.summary import add_derived, write_report


def _run(view_p99: float, batch: float, light: float, heavy: float) -> Report:
    report = Report(facts={"seed": 7, "quick": False, "wall_seconds": 1.0})
    report.add("profile", "GET view, typical customer p99", view_p99, "ms")
    report.add("ingest", "POST /v1/events/batch x100 4 in flight throughput", batch, "events/s")
    report.add("profile", "GET view, customer with 10 events p50", light, "ms")
    report.add("profile", "GET view, customer with 10000 events p50", heavy, "ms")
    add_derived(report)
    return report


@given(st.lists(st.floats(min_value=0.1, max_value=1e6), min_size=1, max_size=9))
def test_spread_brackets_the_median(values: list[float]) -> None:
    """Whatever the runs measured, min <= median <= max and every run is kept."""
    runs = [Report() for _ in values]
    for run, value in zip(runs, values, strict=True):
        run.add("s", "figure", value, "ms")
    spread = spreads(runs)[("s", "figure")]
    assert spread.low <= spread.median <= spread.high
    assert sorted(spread.values) == sorted(values)


def test_target_verdict_uses_the_median_in_the_right_direction() -> None:
    """A latency ceiling is met below it, a rate floor above it; the gap is a factor."""
    ceiling = Target("row", "profile", "p99", "<=", 5, "ms")
    floor = Target("row", "ingest", "rate", ">=", 1000, "events/s")
    fast = Spread("profile", "p99", "ms", (3.0, 4.0, 9.0), "", "")
    slow = Spread("ingest", "rate", "events/s", (200.0, 250.0, 400.0), "", "")
    assert ceiling.met(fast)
    assert not floor.met(slow)
    assert floor.gap(slow) == "4.0x short"


def test_derived_ratio_of_view_cost_by_history() -> None:
    """The 10,000-over-10-event view ratio is computed per run from that run's own figures."""
    report = _run(6.0, 900.0, light=4.0, heavy=10.0)
    ratio = [f for f in report.figures if f.name == "GET view p50, 10,000 / 10 events"]
    assert [f.value for f in ratio] == [2.5]


def test_report_files_name_targets_and_runs(tmp_path: Path) -> None:
    """Three runs give report.md with each run's line, met and missed targets, the JSON with
    every run, and PNG plots for the figures present."""
    runs = [_run(4.0, 900.0, 4.0, 4.4), _run(4.5, 1100.0, 4.0, 4.0), _run(7.0, 950.0, 5.0, 5.5)]
    figures = spreads(runs)
    path = write_report(runs, tmp_path, figures)
    text = path.read_text()
    assert "| 3 |" in text
    assert "GET view, typical customer p99` | <= 5.00 ms | 4.50 (4.00-7.00) ms | **met** |" in text
    assert "950 (900-1,100) events/s | 10.5x short |" in text
    assert "not measured" in text
    assert (tmp_path / "results.json").read_text().count('"runs"') >= 1
    assert (tmp_path / "latency.png").stat().st_size > 1000
