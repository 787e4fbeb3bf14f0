"""Each SQL step on tiny hand-made inputs, through the real replay -> DuckDB -> SQL path."""

from __future__ import annotations

import math
from dataclasses import replace
from itertools import pairwise

import pytest
from conftest import T0, MiniEvent, minutes, rows, series, steps

from ocq_batch.config.model import DEFAULT, Window
from ocq_batch.resources import sql_text

NAN = math.nan


def prod(ex: str, users: dict[tuple[str, str], object]) -> dict[str, dict]:
    return {f"completion/{ex}/prod": users}


def test_transitions_keep_every_change_and_the_previous_sample(run_event):
    flapping = series([0, 0, 1, 1, 0, 0, 1, 1], start_min=50)
    con = run_event(MiniEvent(prod("hero", {("ann", "t1"): flapping})))
    got = rows(con, "select ts, prev_ts, from_value, to_value, is_window_start from transitions")
    assert got == [
        {
            "ts": minutes(52)[0],
            "prev_ts": minutes(51)[0],
            "from_value": 0,
            "to_value": 1,
            "is_window_start": False,
        },
        {
            "ts": minutes(54)[0],
            "prev_ts": minutes(53)[0],
            "from_value": 1,
            "to_value": 0,
            "is_window_start": False,
        },
        {
            "ts": minutes(56)[0],
            "prev_ts": minutes(55)[0],
            "from_value": 0,
            "to_value": 1,
            "is_window_start": False,
        },
    ]


def test_flap_is_counted_but_first_completion_is_sticky(run_event):
    flapping = series([0, 0, 1, 1, 0, 0, 1, 1], start_min=50)
    con = run_event(MiniEvent(prod("hero", {("ann", "t1"): flapping})))
    (c,) = rows(con, "select * from completions")
    assert c["completed_at"] == minutes(52)[0]
    assert c["prev_sample_at"] == minutes(51)[0]  # the data's own bound; completed_after is widened
    assert (c["n_flaps"], c["n_regressions"]) == (1, 1)
    (s,) = rows(con, "select * from scores where model = 'continuous' and exercise = 'hero'")
    assert s["completed_at"] == minutes(52)[0]
    assert s["onetime_bonus"] == pytest.approx(55 + (55 - 52) / 5)


def test_earliest_cluster_counts(run_event):
    con = run_event(MiniEvent(prod("hero", {("bob", "t2"): steps(70), ("bob", "t5"): steps(60)})))
    got = rows(con, "select cluster, completed_at, is_counted from completions order by cluster")
    assert got == [
        {"cluster": "t2", "completed_at": minutes(70)[0], "is_counted": False},
        {"cluster": "t5", "completed_at": minutes(60)[0], "is_counted": True},
    ]
    (s,) = rows(con, "select cluster, completed_at from scores where model='continuous' and exercise='hero'")
    assert s == {"cluster": "t5", "completed_at": minutes(60)[0]}
    assert rows(con, "select clusters from users_seen")[0]["clusters"].tolist() == ["t2", "t5"]


def test_gap_widens_uncertainty_and_nan_is_not_zero(run_event):
    # 0 until 58, then missing samples and a NaN, then 1 from 62
    values = [0.0] * 64 + [None, None, NAN, None] + [1.0] * 10
    con = run_event(MiniEvent(prod("hero", {("cat", "t1"): series(values, start_min=-5)})))
    (c,) = rows(con, "select completed_at, prev_sample_at, completed_after, lineage_s from completions")
    assert c["completed_at"] == minutes(63)[0]
    assert c["prev_sample_at"] == minutes(58)[0]
    # the gap (more than two native intervals) is stale evidence: the lineage counts from before it
    assert c["completed_after"] == minutes(58)[0] - c["lineage_s"]
    # a NaN between two 1s is a gap, not a regression
    con2 = run_event(MiniEvent(prod("hero", {("cat", "t1"): series([0, 1, NAN, 1, 1], start_min=50)})))
    assert rows(con2, "select count(*) as n from transitions")[0]["n"] == 1


def test_window_start_at_one(run_event):
    con = run_event(MiniEvent(prod("hero", {("dan", "t1"): steps(-10)})), window=(T0, T0 + 150 * 60))
    (c,) = rows(con, "select completed_at, prev_sample_at, complete_at_window_start from completions")
    assert c == {"completed_at": T0, "prev_sample_at": None, "complete_at_window_start": True}
    assert rows(con, "select completed_after from completions") == [{"completed_after": None}]
    (t,) = rows(con, "select from_value, to_value, is_window_start from transitions")
    assert t == {"from_value": None, "to_value": 1, "is_window_start": True}


def test_samples_outside_window_are_ignored(run_event):
    con = run_event(MiniEvent(prod("hero", {("eve", "t1"): steps(155, until_min=170)})))
    assert rows(con, "select count(*) as n from completions")[0]["n"] == 0
    assert rows(con, "select score from ranking") == [{"score": 0.0}]


def test_exclusions_never_ranked(run_event):
    data = prod("hero", {("test01", "t1"): steps(10), ("ann", "t1"): steps(60), ("zed", "t1"): steps(None)})
    con = run_event(MiniEvent(data))
    assert rows(con, "select user, pattern from exclusions") == [{"user": "test01", "pattern": "^test"}]
    assert [r["user"] for r in rows(con, "select user from ranking")] == ["ann", "zed"]
    assert sorted(r["user"] for r in rows(con, "select user from users_seen")) == ["ann", "test01", "zed"]


def test_participant_without_completion_ranks_last_with_zero(run_event):
    con = run_event(MiniEvent(prod("hero", {("ann", "t1"): steps(60), ("bob", "t1"): steps(None)})))
    assert rows(con, "select rank, user, score, exercises_completed, last_completed_at from ranking") == [
        {
            "rank": 1,
            "user": "ann",
            "score": pytest.approx(55 - 1 + 18),
            "exercises_completed": 1,
            "last_completed_at": minutes(60)[0],
        },
        {"rank": 2, "user": "bob", "score": 0.0, "exercises_completed": 0, "last_completed_at": None},
    ]


def test_ties_share_a_rank_and_last_completion_breaks_them(run_event):
    data = {
        # amy and abe: identical; bea: same score reached with a later last completion
        "completion/hero/prod": {
            ("amy", "t1"): steps(50),
            ("abe", "t2"): steps(50),
            ("bea", "t3"): steps(45),
        },
        "completion/villain/prod": {
            ("amy", "t1"): steps(80),
            ("abe", "t2"): steps(80),
            ("bea", "t3"): steps(85),
        },
    }
    con = run_event(MiniEvent(data))
    got = rows(con, "select rank, user, score from ranking")
    assert [r["score"] for r in got] == pytest.approx([got[0]["score"]] * 3)
    assert [(r["rank"], r["user"]) for r in got] == [(1, "abe"), (1, "amy"), (3, "bea")]


def test_components_signal_is_the_and_of_components(run_event):
    data = {
        "service/hero/prod": {("ann", "t1"): steps(60)},
        "database/hero/prod": {("ann", "t1"): steps(-20)},
        "pipeline/hero/*": {("ann", "t1"): steps(66)},  # dev-only pipeline counts for prod too
        "completion/hero/prod": {("ann", "t1"): steps(61)},
    }
    cfg = replace(DEFAULT, signal="components")
    con = run_event(MiniEvent(data), config=cfg)
    (c,) = rows(con, "select completed_at from completions where env = 'prod'")
    assert c["completed_at"] == minutes(66)[0]
    con2 = run_event(MiniEvent(data))
    assert (
        rows(con2, "select completed_at from completions where env='prod'")[0]["completed_at"]
        == minutes(61)[0]
    )


def test_missing_component_is_a_gap_not_a_zero(run_event):
    data = {
        "service/hero/prod": {("ann", "t1"): steps(60)},
        "pipeline/hero/*": {("ann", "t1"): steps(50)},
        # no database/hero/prod series at all
    }
    con = run_event(MiniEvent(data), config=replace(DEFAULT, signal="components"))
    assert rows(con, "select count(*) as n from signal where env = 'prod'")[0]["n"] == 0


def test_timeline_ends_at_the_final_score_and_is_monotonic(run_event):
    data = {"completion/hero/prod": {("ann", "t1"): steps(52.5, step_s=30)}}
    con = run_event(MiniEvent(data), step=30, window=(T0, T0 + 152 * 60))
    line = rows(con, "select ts, score from timeline where user = 'ann' order by ts")
    final = rows(con, "select score from ranking")[0]["score"]
    assert line[-1]["ts"] == T0 + 152 * 60 and line[-1]["score"] == pytest.approx(final)
    assert line[0] == {"ts": T0, "score": 0.0}
    assert all(b["score"] >= a["score"] for a, b in pairwise(line))
    assert [r["ts"] - T0 for r in line[:3]] == [0, 300, 600]
    assert len(line) == 30 + 1 + 1  # ticks 0..150 min, plus 152 min


@pytest.mark.parametrize(
    ("times", "expected"),
    [((55, 85, 130), 145), ((50, 75, 115), 165), ((60, 95, 145), 125)],
    ids=["on-time", "early", "late"],
)
@pytest.mark.parametrize("model", ["stepped", "continuous"])
def test_scoring_worked_examples(run_event, times, expected, model):
    """SCORING.md's worked examples: penalties 1, 2, 3, scores at T0 + 150 min."""
    cfg = replace(
        DEFAULT,
        model=model,
        exercises=tuple(replace(e, penalty=z) for e, z in zip(DEFAULT.exercises, (1, 2, 3), strict=True)),
    )
    data = {
        f"completion/{ex}/prod": {("ann", "t1"): steps(m, step_s=30)}
        for ex, m in zip(("hero", "villain", "fight"), times, strict=True)
    }
    con = run_event(MiniEvent(data, cfg), step=30)
    assert rows(con, "select score from ranking") == [{"score": pytest.approx(expected)}]
    per = rows(
        con,
        "select exercise, onetime_bonus, accelerator from scores where model = ? order by exercise",
        model,
    )
    assert len(per) == 3


def test_stepped_and_continuous_differ_off_the_grid(run_event):
    data = {"completion/hero/prod": {("ann", "t1"): steps(57.5, step_s=30)}}
    con = run_event(MiniEvent(data), step=30)
    got = {r["model"]: r for r in rows(con, "select * from scores where exercise = 'hero'")}
    # continuous: 55 + (55 - 57.5)/5 = 54.5, ramp (150 - 57.5)/5 = 18.5
    assert got["continuous"]["onetime_bonus"] == pytest.approx(54.5)
    assert got["continuous"]["accelerator"] == pytest.approx(18.5)
    # stepped: completion tick 11 -> 55 + (11 - 11) = 55, ramp 30 - 11 = 19
    assert got["stepped"]["onetime_bonus"] == pytest.approx(55)
    assert got["stepped"]["accelerator"] == pytest.approx(19)


def test_reloading_the_same_responses_changes_nothing(run_event, tmp_path):
    from ocq_batch.load.loader import Loader
    from ocq_batch.pull.queries import plan_queries
    from ocq_batch.pull.source import ReplaySource

    con = run_event(MiniEvent(prod("hero", {("ann", "t1"): steps(60)})))
    before = rows(
        con,
        "select (select count(*) from samples) as s, (select count(*) from series) as r, "
        "(select count(*) from fetches) as f",
    )
    stats = Loader(con, "user", "cluster").add_all(
        ReplaySource(tmp_path / "replay0").responses(plan_queries(DEFAULT), T0, T0 + 9000)
    )
    after = rows(
        con,
        "select (select count(*) from samples) as s, (select count(*) from series) as r, "
        "(select count(*) from fetches) as f",
    )
    assert before == after
    assert stats.samples_added == 0 and stats.responses_skipped == stats.responses


def test_a_failed_run_leaves_the_previous_projections(run_event, monkeypatch):
    import ocq_batch.detect.steps as pipeline
    from ocq_batch.timeutil import from_epoch

    con = run_event(MiniEvent(prod("hero", {("ann", "t1"): steps(60), ("bob", "t2"): steps(90)})))
    before = {t: rows(con, f"select * from {t} order by all") for t in ("transitions", "scores", "ranking")}
    real = pipeline.sql_text

    def failing(name: str) -> str:
        if name == "detect/06_scores.sql":
            raise RuntimeError("disk full")
        return real(name)

    monkeypatch.setattr(pipeline, "sql_text", failing)
    narrower = Window(from_epoch(T0), from_epoch(T0 + 70 * 60))  # bob's completion drops out
    with pytest.raises(RuntimeError, match="disk full"):
        pipeline.run_pipeline(con, DEFAULT, narrower)
    after = {t: rows(con, f"select * from {t} order by all") for t in ("transitions", "scores", "ranking")}
    assert after == before


def test_signal_edges_stays_out_of_the_store(run_event):
    """Step 02's signal_edges only feeds step 03 of the same run: a temporary table, which the
    commit does not write. A stored one, left by an earlier version, is dropped."""
    flapping = series([0, 0, 1, 1, 0, 0, 1, 1], start_min=50)
    con = run_event(MiniEvent(prod("hero", {("ann", "t1"): flapping})))
    stored = "select count(*) from duckdb_tables() where table_name = 'signal_edges' and not temporary"
    assert con.execute(stored).fetchall() == [(0,)]
    assert len(rows(con, "select * from transitions")) == 3
    con.execute("drop table signal_edges")
    con.execute("create table main.signal_edges as select 1 as stale")  # as an earlier version left it
    con.execute(sql_text("detect/03_signal.sql"))
    assert con.execute(stored).fetchall() == [(0,)]
