"""One presentation across report.html and the notebooks' charts: the same time axis (clock time in
the event's zone, a tick every half hour after T0), the same rank directions (rank 1 at the top
left), the event's time zone in tables; and the report's provenance footer."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_cli

from ocq_batch import analysis
from ocq_batch.analysis import charts
from ocq_batch.report import axis


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("presentation") / "demo"
    assert run_cli("export", "-q", "--out", str(out)).returncode == 0
    return out


def svg_of(text: str, title: str) -> str:
    match = re.search(r"<svg[^>]*aria-label=\"" + re.escape(title) + r"[^\"]*\".*?</svg>", text, re.S)
    assert match, title
    return match.group(0)


def test_time_axis_is_the_same_in_the_report_and_the_notebooks(demo: Path) -> None:
    page = (demo / "report.html").read_text()
    svg = svg_of(page, "Points over time")
    report_ticks = re.findall(r'text-anchor="middle">(\d\d:\d\d)</text>', svg)
    assert report_ticks == ["15:15", "15:45", "16:15", "16:45", "17:15", "17:45"]  # Paris time, T0 + k*30 min
    assert axis.title("Europe/Paris") in svg and "hero expected" in svg
    with analysis.open_archives(demo) as ax:
        expected = ax.expected_times()
        fig = charts.timeline(ax.timeline(10), expected, ax.cutoff_timeline())
        (plot,) = [a for a in fig.axes if a.get_visible()]
        labels = [t.get_text() for t in plot.get_xticklabels()]
        assert labels == report_ticks and plot.get_xlabel() == axis.title("Europe/Paris")
        assert "hero expected" in [t.get_text().strip() for t in plot.texts]
        times = charts.completion_times(ax.completion_times(), expected)
        assert times.axes[0].get_xlabel() == axis.title("Europe/Paris")
        assert all(re.fullmatch(r"\d\d:\d\d", t.get_text()) for t in times.axes[0].get_xticklabels())
        for panel in charts.clusters(ax.completion_times(), expected).axes:
            if panel.get_visible():
                assert panel.get_xlabel() == axis.title("Europe/Paris")


def test_live_vs_batch_has_rank_one_at_the_top_left_in_both(demo: Path) -> None:
    svg = svg_of((demo / "report.html").read_text(), "Live board vs batch")
    assert axis.BATCH_RANK in svg and axis.LIVE_RANK in svg
    from ocq_batch.report.svg import Plot

    plot = Plot(640, 640, (0.0, 75.0), (0.0, 75.0), "t", axis.BATCH_RANK, axis.LIVE_RANK, invert_y=True)
    assert plot.px(1) < plot.px(30) and plot.py(1) < plot.py(30)  # 1: left and top
    with analysis.open_archives(demo) as ax:
        fig = charts.live_vs_batch(ax.live_vs_batch())
        panel = fig.axes[0]
        assert not panel.xaxis_inverted() and panel.yaxis_inverted()
        assert panel.get_xlabel() == axis.BATCH_RANK and panel.get_ylabel() == axis.LIVE_RANK


def test_notebook_tables_show_the_event_zone(demo: Path) -> None:
    with analysis.open_archives(demo) as ax:
        ranking = ax.df("ranking")
        assert str(ranking.last_completed_at.dt.tz) == "UTC"  # the archive keeps UTC
        shown = ax.local(ranking)
        assert str(shown.last_completed_at.dt.tz) == "Europe/Paris"
        assert (shown.last_completed_at.dropna() == ranking.last_completed_at.dropna()).all()
        assert isinstance(shown.last_completed_at.dropna().iloc[0], pd.Timestamp)
    for name in ("event-overview", "leaderboard"):
        text = (Path(__file__).parent.parent / "notebooks" / f"{name}.ipynb").read_text()
        assert "ax.local(" in text and "minutes after the event start T0" not in text


def test_the_provenance_footer_matches_the_manifest(demo: Path) -> None:
    manifest = json.loads((demo / "manifest.json").read_text())
    data = sorted(n for n in manifest["files"] if n not in ("report.md", "report.html", "ceremony.html"))
    blob = "".join(f"{n} {manifest['files'][n]['sha256']}\n" for n in data)
    digest = hashlib.sha256(blob.encode()).hexdigest()
    assert manifest["data_digest"] == {"sha256": digest, "files": data}
    page = (demo / "report.html").read_text()
    footer = page[page.index('<footer id="provenance">') :]
    assert f"ocq-batch {manifest['tool_version']}" in footer
    assert manifest["config"]["digest"] in footer and digest in footer
    assert "ceremony.html" in manifest["files"] and digest[:16] in (demo / "ceremony.html").read_text()
    assert digest in (demo / "report.md").read_text()
