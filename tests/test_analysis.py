"""The analysis API on freshly exported demo archives: views, helpers, errors, re-scoring."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import OUTPUT, T0

from ocq_batch import analysis
from ocq_batch.analysis import charts
from ocq_batch.archive.layout import ARCHIVE_VERSION
from ocq_batch.config.model import DEFAULT, Config, Window
from ocq_batch.config.settings import config_from_settings
from ocq_batch.errors import (
    ArchiveError,
    ConfigError,
    NotAnArchiveError,
    OcqError,
    SchemaVersionError,
    TamperedFileError,
    WindowError,
)
from ocq_batch.jobs.export import export
from ocq_batch.pull.source import ReplaySource
from ocq_batch.resources import demo_dir
from ocq_batch.timeutil import plus

TOP = DEFAULT.top


def build_demo(factory: pytest.TempPathFactory, name: str, config: Config = DEFAULT) -> Path:
    """Export the bundled demo once per test session (shared by test_notebooks.py)."""
    out = factory.getbasetemp() / "analysis-archives" / name
    if not (out / "manifest.json").exists():
        export(config, Window(config.start, config.end), ReplaySource(demo_dir()), out)
    return out


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory, "demo")


@pytest.fixture(scope="session")
def stepped_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory, "stepped", replace(DEFAULT, model="stepped"))


@pytest.fixture(scope="module")
def ax(demo_archive: Path) -> Iterator[analysis.Archives]:
    archives = analysis.open_archives(demo_archive)
    yield archives
    archives.close()


def copy_archive(src: Path, dest: Path) -> Path:
    """The archive's own files only (not the working store)."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("store.duckdb*", "replay"))
    return dest


def test_one_archive_as_views_and_frames(ax: analysis.Archives, demo_archive: Path) -> None:
    assert {"ranking", "scores", "completions", "timeline", "samples", "participants"} <= set(ax.tables)
    ranking = ax.df("ranking")
    assert "event" not in ranking.columns
    pd.testing.assert_frame_equal(ranking, pq.read_table(demo_archive / "ranking.parquet").to_pandas())
    got = ax.sql("select count(*) as n from completions where env = $env and is_counted", {"env": "prod"})
    assert int(got.n.iloc[0]) > 0
    summary = ax.summary().iloc[0]
    assert (summary.seen, summary.excluded, summary.participants, summary.top) == (76, 2, 74, TOP)
    assert summary.clusters == 6
    with pytest.raises(ArchiveError, match="no table 'nope'"):
        ax.df("nope")


def test_config_from_settings_round_trips_the_digest(demo_archive: Path) -> None:
    manifest = json.loads((demo_archive / "manifest.json").read_text())
    config = config_from_settings(manifest["config"]["settings"])
    assert config.digest() == manifest["config"]["digest"]
    assert replace(config, origin=DEFAULT.origin) == DEFAULT
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        config_from_settings({**manifest["config"]["settings"], "colour": "red"})
    with pytest.raises(ConfigError, match=r"settings\.top"):
        config_from_settings({**manifest["config"]["settings"], "top": "thirty"})


def test_helpers_answer_the_common_questions(ax: analysis.Archives) -> None:
    scores = ax.df("scores")
    ranking = ax.df("ranking")
    funnel = ax.funnel()
    assert list(dict.fromkeys(funnel.env)) == ["dev", "preprod", "prod"]
    assert list(funnel.exercise[:3]) == ["hero", "villain", "fight"]
    prod = funnel[funnel.env == "prod"].set_index("exercise")
    done = scores[scores.completed_at.notna()].groupby("exercise").size()
    assert prod.completed.to_dict() == done.to_dict()
    assert ((funnel.share >= 0) & (funnel.share <= 1)).all() and (funnel.participants == 74).all()

    times = ax.completion_times()
    assert len(times) == scores.completed_at.notna().sum()
    minutes = (times.completed_at - pd.Timestamp(T0, unit="s", tz="UTC")).dt.total_seconds() / 60
    assert times.minutes.to_numpy() == pytest.approx(minutes.to_numpy())
    assert (times.late_min - (times.minutes - times.expected_min)).abs().max() < 1e-9
    assert set(ax.completion_times(env="dev").env) == {"dev"}

    clusters = ax.cluster_comparison()
    assert (
        clusters.groupby("exercise").completed.sum().to_dict() == times.groupby("exercise").size().to_dict()
    )

    delays = ax.promotion_delays()
    assert set(zip(delays.from_env, delays.to_env, strict=True)) == {("dev", "preprod"), ("preprod", "prod")}
    assert ((delays.to_at - delays.from_at).dt.total_seconds() / 60 - delays.delay_min).abs().max() < 1e-9

    assert list(ax.leaders().user) == list(ranking.user[:TOP])
    tl = ax.timeline(3)
    assert list(dict.fromkeys(tl.user)) == list(ranking.user[:3])
    final = tl.groupby("user").score.last()
    assert final.to_dict() == pytest.approx(ranking.set_index("user").score[:3].to_dict())
    cut = ax.cutoff_timeline()
    assert cut.score.iloc[-1] == pytest.approx(ranking.score.iloc[TOP - 1])
    assert list(ax.timeline(users=["user01"]).user.unique()) == ["user01"]
    expected = ax.expected_times()
    assert expected.set_index("exercise").expected_min.to_dict() == {"hero": 55, "villain": 85, "fight": 130}


def test_ranking_with_uncertainty_follows_the_spec(ax: analysis.Archives) -> None:
    rk = ax.ranking_with_uncertainty()
    ranking = ax.df("ranking")
    assert list(rk.user) == list(ranking.user) and (rk.score == ranking.score).all()
    assert (rk.score_high >= rk.score - 1e-9).all()
    # continuous model: score falls by (z + A) / U per second of completion time (SCORING.md)
    scores = ax.df("scores").dropna(subset=["completed_at", "completed_after"])
    width = (scores.completed_at - scores.completed_after).dt.total_seconds() - 1e-6
    slope = {e.name: (e.penalty + DEFAULT.accelerator) / DEFAULT.tick_s for e in DEFAULT.exercises}
    expected = (width * scores.exercise.map(slope)).groupby(scores.user).sum()
    got = rk.set_index("user").loc[expected.index]
    assert (got.score_high - got.score).to_numpy() == pytest.approx(expected.to_numpy(), abs=1e-6)
    assert (got.uncertainty_s >= 30).all()
    cut = ax.cutoff().iloc[0]
    assert cut.last_winner == ranking.user[TOP - 1] and cut.first_out == ranking.user[TOP]
    assert not cut.decidable and rk.overlaps_next.iloc[TOP - 1]  # ranks 30 and 31 overlap


def test_one_verdict_for_the_notebook_the_report_and_verify(
    ax: analysis.Archives, demo_archive: Path
) -> None:
    """The analysis API's cut-off is the audit's: the same intervals (the robustness table,
    with the collection interval), the same contested places, the same sentence as the
    manifest, the report and ``verify`` (issue 17, item 5: the demo's cut-off is not decided)."""
    from conftest import run_cli

    cut = ax.cutoff().iloc[0]
    manifest = json.loads((demo_archive / "manifest.json").read_text())
    assert manifest["verdict"]["cutoff_decidable"] is False
    assert bool(cut.decidable) is False
    assert cut.verdict == manifest["verdict"]["summary"]
    assert tuple(cut.contested_ranks) == (22, 31) and (cut.below, cut.above) == (1, 31)
    rob = pq.read_table(demo_archive / "robustness.parquet").to_pandas()
    rk = ax.ranking_with_uncertainty()
    assert list(rk.user) == list(rob.user)
    assert (rk.score.to_numpy() == rob.score_min.to_numpy()).all()
    assert (rk.score_high.to_numpy() == rob.score_max.to_numpy()).all()
    assert list(rk.user[rk.contested]) == list(cut.contested)
    report = " ".join((demo_archive / "report.md").read_text().split())
    assert cut.verdict in report
    proc = run_cli("verify", "-q", "--archive", str(demo_archive), env={"COLUMNS": "400"})
    assert proc.returncode == 3, proc.stderr
    said = " ".join(proc.stdout.split())
    assert f"verdict: {cut.verdict}" in said
    for place in cut.contested:  # each contested place with the interval the notebook shows
        row = rk[rk.user == place].iloc[0]
        assert f"{place} (rank {row['rank']}, " in said
        assert f"{row.score:.1f} to {row.score_high:.1f})" in said


def test_live_vs_batch_compares_ranks(ax: analysis.Archives) -> None:
    live = ax.live_vs_batch()
    assert {"user", "batch_rank", "live_rank", "batch_in_top", "live_in_top"} <= set(live.columns)
    if ax.has_live():
        assert len(live) > 0 and live.live_rank.notna().all()


def test_several_archives_get_an_event_column(demo_archive: Path, stepped_archive: Path) -> None:
    with analysis.open_archives([demo_archive, stepped_archive]) as both:
        assert both.events == ["opencodequest-2024 (demo)", "opencodequest-2024 (stepped)"]
        ranking = both.df("ranking")
        assert list(ranking.columns[:2]) == ["event", "rank"] and len(ranking) == 2 * 74
        summary = both.summary()
        assert list(summary.model) == ["continuous", "stepped"]
        for frame in (both.funnel(), both.completion_times(), both.timeline(2), both.promotion_delays()):
            assert set(frame.event) == set(both.events)
        assert both.archive("opencodequest-2024 (stepped)").config.model == "stepped"
        with pytest.raises(ArchiveError, match="pass event="):
            both.archive()
        stepped = both.sql("select * exclude (event) from ranking where event = $e", {"e": both.events[1]})
        pd.testing.assert_frame_equal(stepped, pq.read_table(stepped_archive / "ranking.parquet").to_pandas())
        assert set(both.cutoff().event) == set(both.events)


def test_event_labels_disambiguate_by_folder(demo_archive: Path) -> None:
    one = analysis.read_archive(demo_archive)
    other = replace(one, manifest={**one.manifest, "event": {"name": "rehearsal"}})
    twin = replace(one, path=one.path.parent / "again")
    same = replace(one, path=Path("/elsewhere") / one.path.name)
    assert analysis.event_labels([one, other]) == ["opencodequest-2024", "rehearsal"]
    assert analysis.event_labels([one, twin]) == ["opencodequest-2024 (demo)", "opencodequest-2024 (again)"]
    assert analysis.event_labels([one, same]) == [
        "opencodequest-2024 (demo) #1",
        "opencodequest-2024 (demo) #2",
    ]


def test_a_folder_that_is_not_an_archive(tmp_path: Path) -> None:
    with pytest.raises(NotAnArchiveError, match=r"not an ocq-batch archive \(no manifest.json\)") as err:
        analysis.open_archives(tmp_path)
    assert isinstance(err.value, OcqError)
    (tmp_path / "manifest.json").write_text('{"format": "something-else"}')
    with pytest.raises(NotAnArchiveError, match="format 'something-else'"):
        analysis.read_archive(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(NotAnArchiveError, match="cannot be read as JSON"):
        analysis.read_archive(tmp_path)
    with pytest.raises(ArchiveError, match="no archive given"):
        analysis.open_archives([])


def test_an_unknown_schema_version(demo_archive: Path, tmp_path: Path) -> None:
    folder = copy_archive(demo_archive, tmp_path / "future")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["schema_version"] = ARCHIVE_VERSION + 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        SchemaVersionError, match=f"schema version {ARCHIVE_VERSION + 1}.*reads version {ARCHIVE_VERSION}"
    ):
        analysis.open_archives(folder)


def test_a_tampered_or_missing_file_is_named(demo_archive: Path, tmp_path: Path) -> None:
    folder = copy_archive(demo_archive, tmp_path / "tampered")
    table = pq.read_table(folder / "ranking.parquet")
    pq.write_table(table.slice(1), folder / "ranking.parquet")  # someone dropped the winner
    with pytest.raises(TamperedFileError, match=r"ranking\.parquet no longer matches the sha256"):
        analysis.open_archives(folder)
    assert len(analysis.open_archives(folder, verify=False).df("ranking")) == 73
    (folder / "scores.parquet").unlink()
    with pytest.raises(TamperedFileError, match=r"scores\.parquet is listed in the manifest but missing"):
        analysis.read_archive(folder, verify=False)


def test_rescoring_with_its_own_settings_reproduces_the_archive(demo_archive: Path) -> None:
    archive = analysis.read_archive(demo_archive)
    rescorer = analysis.Rescorer(archive)
    try:
        again = rescorer.run()
        for name in ("ranking", "scores", "timeline"):
            pd.testing.assert_frame_equal(getattr(again, name), archive.read(name), check_exact=True)
        with pytest.raises(WindowError, match="pick a window inside it"):
            rescorer.run(window=Window(archive.window.start, plus(archive.window.end, 60)))
        shorter = rescorer.run(window=Window(archive.window.start, plus(archive.window.start, 100 * 60)))
        assert shorter.timeline.ts.max() == pd.Timestamp(T0 + 100 * 60, unit="s", tz="UTC")
    finally:
        rescorer.close()


def test_rescoring_stepped_equals_a_stepped_export(demo_archive: Path, stepped_archive: Path) -> None:
    stepped = analysis.rescore(demo_archive, model="stepped")
    pd.testing.assert_frame_equal(stepped, pq.read_table(stepped_archive / "ranking.parquet").to_pandas())


def spec_score(scores: pd.DataFrame, penalties: dict[str, float], tick_s: float) -> pd.Series:
    """SCORING.md, continuous model, written out independently as the test oracle."""
    done = scores.dropna(subset=["completed_at"])
    c = (done.completed_at - pd.Timestamp(T0, unit="s", tz="UTC")).dt.total_seconds()
    ex = {e.name: e for e in DEFAULT.exercises}
    base = done.exercise.map(lambda e: ex[e].base)
    expected_s = done.exercise.map(lambda e: ex[e].expected_s)
    z = done.exercise.map(penalties)
    points = base + z * (expected_s - c) / tick_s + DEFAULT.accelerator * (150 * 60 - c) / tick_s
    return points.groupby(done.user).sum().reindex(scores.user.unique(), fill_value=0.0)


def test_what_if_penalties_and_tick_change_scores_as_the_spec_says(ax: analysis.Archives) -> None:
    scenarios = {
        "penalties 1/2/3": {"penalties": (1, 2, 3)},
        "10-minute tick": {"tick_s": 600},
        "stepped": {"model": "stepped"},
    }
    ranks = ax.what_if(scenarios)
    assert list(dict.fromkeys(ranks.scenario)) == [analysis.BASELINE, *scenarios]
    base = ranks[ranks.scenario == analysis.BASELINE].drop(columns="scenario").reset_index(drop=True)
    pd.testing.assert_frame_equal(base, ax.df("ranking"))
    scores = ax.df("scores")
    for name, penalties, tick in (
        ("penalties 1/2/3", (1, 2, 3), 300.0),
        ("10-minute tick", (1, 1, 1), 600.0),
    ):
        got = ranks[ranks.scenario == name].set_index("user").score
        want = spec_score(scores, dict(zip(["hero", "villain", "fight"], penalties, strict=True)), tick)
        assert got.sort_index().to_numpy() == pytest.approx(want.sort_index().to_numpy(), abs=1e-9)
    late_fight = scores[(scores.exercise == "fight") & scores.completed_at.notna()]
    late = late_fight[late_fight.completed_at > pd.Timestamp(T0 + 130 * 60, unit="s", tz="UTC")].user
    pen = ranks[ranks.scenario == "penalties 1/2/3"].set_index("user").score
    assert (pen[late] < base.set_index("user").score[late]).all()  # late fighters lose under z = 3
    stepped = ranks[ranks.scenario == "stepped"].set_index("user").score
    assert ((stepped * 1e6).round() % 1e6 == 0).all()  # whole points per whole tick, as in the worked example

    moves = analysis.cutoff_moves(ranks)
    assert list(moves.columns) == [
        "scenario",
        "user",
        "move",
        "baseline_rank",
        "rank",
        "baseline_score",
        "score",
    ]
    assert set(moves.move) <= {"enters the prizes", "leaves the prizes"}
    summary = analysis.cutoff_summary(ranks)
    assert list(summary.scenario) == [analysis.BASELINE, *scenarios]
    assert summary.last_winner.iloc[0] == ax.df("ranking").user[TOP - 1]
    table = analysis.rank_table(ranks, around=3)
    assert list(table.columns) == [analysis.BASELINE, *scenarios]
    assert ((table - TOP).abs() <= 3).any(axis=1).all()


def test_cutoff_moves_names_who_crosses() -> None:
    def frame(scenario: str, users: list[str]) -> pd.DataFrame:
        n = len(users)
        return pd.DataFrame(
            {"scenario": scenario, "rank": range(1, n + 1), "user": users, "score": range(n, 0, -1),
             "in_top": [i < 2 for i in range(n)]}
        )  # fmt: skip

    ranks = pd.concat([frame(analysis.BASELINE, ["a", "b", "c"]), frame("other", ["a", "c", "b"])])
    moves = analysis.cutoff_moves(ranks)
    assert moves[["user", "move", "baseline_rank", "rank"]].to_dict("records") == [
        {"user": "c", "move": "enters the prizes", "baseline_rank": 3, "rank": 2},
        {"user": "b", "move": "leaves the prizes", "baseline_rank": 2, "rank": 3},
    ]


def test_scenario_rejects_bad_settings() -> None:
    with pytest.raises(ConfigError, match="give one per exercise"):
        analysis.scenario(DEFAULT, penalties=(1, 2))
    with pytest.raises(ConfigError, match="unknown exercises"):
        analysis.scenario(DEFAULT, penalties={"dragon": 2})
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        analysis.scenario(DEFAULT, colour="red")
    with pytest.raises(ConfigError, match="--model 'fast' is unknown"):
        analysis.scenario(DEFAULT, model="fast")
    with pytest.raises(ConfigError, match="above 0"):
        analysis.scenario(DEFAULT, tick_s=0)
    assert [e.penalty for e in analysis.scenario(DEFAULT, penalties={"fight": 3}).exercises] == [1, 1, 3]


def test_charts_render_for_one_and_several_events(
    ax: analysis.Archives, demo_archive: Path, stepped_archive: Path
) -> None:
    out = OUTPUT / "charts"
    out.mkdir(parents=True, exist_ok=True)
    ranks = ax.what_if({"stepped": {"model": "stepped"}, "penalties 1/2/3": {"penalties": (1, 2, 3)}})
    with analysis.open_archives([demo_archive, stepped_archive]) as both:
        for prefix, a in (("", ax), ("two-events-", both)):
            times, expected = a.completion_times(), a.expected_times()
            figures = {
                "funnel": charts.funnel(a.funnel()),
                "completion-times": charts.completion_times(times, expected),
                "clusters": charts.clusters(times, expected),
                "promotion": charts.promotion(a.promotion_delays()),
                "timeline": charts.timeline(a.timeline(10), expected, a.cutoff_timeline()),
                "ranking": charts.ranking(a.ranking_with_uncertainty()),
                "live-vs-batch": charts.live_vs_batch(a.live_vs_batch()),
            }
            if not prefix:
                figures["rank-moves"] = charts.rank_moves(ranks)
            for name, fig in figures.items():
                charts.save(fig, str(out / f"{prefix}{name}"))
                assert (out / f"{prefix}{name}.png").stat().st_size > 20_000, name


def test_the_cutoff_is_the_verdicts_beyond_the_next_place(tmp_path: Path) -> None:
    """The cut-off is decided only when every winner beats everyone outside in every case the
    data allows: a participant three places down whose completions follow a long gap could
    still outscore the winner, though the first one out cannot. The notebook says what
    ``verify`` says (it used to compare the last winner with the first one out only)."""
    from conftest import DEMO_FROM, DEMO_TO, MiniEvent, full, merge, run_cli, steps

    def after_gap(at: float) -> list[tuple[float, float]]:  # no sample from minute 5 to `at`
        return [(ts, v) for ts, v in steps(at, step_s=30) if not T0 + 5 * 60 < ts < T0 + at * 60]

    late = {
        f"completion/{ex}/prod": {("c", "c1"): after_gap(m)}
        for ex, m in zip(("hero", "villain", "fight"), (100, 110, 120), strict=True)
    }
    event = MiniEvent(merge(full("a", "c1", (20, 40, 60)), full("b", "c1", (40, 60, 80)), late))
    replay = event.write(tmp_path / "replay", T0 - 15 * 60, T0 + 180 * 60, 30)
    out = tmp_path / "out"
    args = ("--source", str(replay), "--from", DEMO_FROM, "--to", DEMO_TO, "--out", str(out), "--top", "1")
    proc = run_cli("export", "-q", *args)
    assert proc.returncode == 0, proc.stderr
    with analysis.open_archives(out) as three:
        rk = three.ranking_with_uncertainty()
        assert list(rk.user) == ["a", "b", "c"]
        assert not rk.overlaps_next.iloc[0]  # the first one out cannot reach the winner
        assert rk.score_high.iloc[2] >= rk.score.iloc[0]  # but the third can
        cut = three.cutoff().iloc[0]
        assert bool(cut.decidable) is False and list(cut.contested) == ["a", "c"]
    verify = run_cli("verify", "-q", "--archive", str(out), env={"COLUMNS": "400"})
    assert verify.returncode == 3 and f"verdict: {cut.verdict}" in " ".join(verify.stdout.split())
