"""The audit on tiny hand-made events: each check, the cut-off decision, exit codes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import T0, MiniEvent, full, merge, minutes, run_cli, series, steps

from ocq_batch.archive.reload import CARRIED
from ocq_batch.audit.run import run_audit
from ocq_batch.audit.verdict import decide_cutoff
from ocq_batch.config.model import DEFAULT, Audit

NO_COLLECT = replace(DEFAULT, audit=replace(Audit(), collect_interval_s=0.0))


def audit_of(run_event, data, config=NO_COLLECT, **kw):
    con = run_event(MiniEvent(data, config), config=config, **kw)
    return con, run_audit(con, config)


def checks(result, user=None) -> set[str]:
    f = result.findings
    if user is not None:
        f = f[f.user == user]
    return set(f["check"])


def test_clean_event_has_no_warning(run_event) -> None:
    data = merge(full("ann", "t1", (50, 80, 120)), full("bob", "t2", (60, 100, 140)))
    _, result = audit_of(run_event, data, step=30)
    assert set(result.findings.severity) <= {"info"}
    assert result.cutoff.decidable and result.clean


def test_regression_and_flap_are_found_with_their_times(run_event) -> None:
    flap = series([0] * 60 + [1] * 10 + [0] * 8 + [1] * 20, start_min=-5)  # 1 at 55, 0 at 65, 1 at 73
    _, result = audit_of(run_event, {"completion/hero/prod": {("ann", "t1"): flap}})
    (row,) = result.findings[result.findings.check == "regression"].itertuples()
    assert (row.user, row.exercise, row.env, row.cluster, row.severity) == (
        "ann",
        "hero",
        "prod",
        "t1",
        "warning",
    )
    assert row.evidence_at.timestamp() == minutes(65)[0] and row.evidence_until.timestamp() == minutes(73)[0]
    assert "for 8m00s" in row.message and "one-time bonus again" in row.message


def test_several_clusters_names_the_counted_one(run_event) -> None:
    data = {"completion/hero/prod": {("bob", "t2"): steps(70), ("bob", "t5"): steps(60)}}
    _, result = audit_of(run_event, data)
    (row,) = result.findings[result.findings.check == "several_clusters"].itertuples()
    assert "t2, t5" in row.message and "hero on t5" in row.message


def test_window_start_and_before_start(run_event) -> None:
    data = {"completion/hero/prod": {("cat", "t1"): steps(-30, start_min=-40), ("dan", "t1"): steps(-3)}}
    _, result = audit_of(run_event, data, window=(T0 - 10 * 60, T0 + 150 * 60))
    assert "complete_at_window_start" in checks(result, "cat")
    assert "completed_before_start" in checks(result, "dan")
    # an unbounded completion makes the score interval unbounded too
    assert result.robustness.set_index("user").loc["cat", "score_max"] == float("inf")


def test_completion_after_the_window_is_reported_not_scored(run_event) -> None:
    _, result = audit_of(run_event, {"completion/hero/prod": {("eve", "t1"): steps(160, until_min=170)}})
    (row,) = result.findings[result.findings.check == "completed_after_window"].itertuples()
    assert row.user == "eve" and row.evidence_at.timestamp() == minutes(160)[0]


def test_unusual_exercise_order(run_event) -> None:
    data = merge(full("fay", "t1", (70, 60, 120)))
    _, result = audit_of(run_event, data, step=30)
    (row,) = result.findings[result.findings.check == "exercise_order"].itertuples()
    assert row.exercise == "villain" and "before hero" in row.message


def test_gap_and_wide_uncertainty(run_event) -> None:
    values = [0.0] * 60 + [None] * 6 + [1.0] * 20  # no samples 55..60 minutes
    _, result = audit_of(run_event, {"completion/hero/prod": {("gus", "t1"): series(values, start_min=-5)}})
    gap = result.findings[result.findings.check == "data_gap"].iloc[0]
    assert gap.evidence_at.timestamp() == minutes(54)[0] and gap.evidence_until.timestamp() == minutes(61)[0]
    assert "wide_uncertainty" in checks(result, "gus")


def test_component_evidence_says_which_came_last(run_event) -> None:
    data = {
        "service/hero/prod": {("hal", "t1"): steps(60)},
        "database/hero/prod": {("hal", "t1"): steps(-20)},
        "pipeline/hero/*": {("hal", "t1"): steps(66)},
        "completion/hero/prod": {("hal", "t1"): steps(66)},
    }
    _, result = audit_of(run_event, data)
    row = result.findings[
        (result.findings.check == "component_evidence") & (result.findings.env == "prod")
    ].iloc[0]
    assert "pipeline came last" in row.message and "service ready at" in row.message
    assert "signal_disagreement" not in checks(result)


def test_recorded_and_component_signals_disagree(run_event) -> None:
    data = {
        "service/hero/prod": {("ian", "t1"): steps(60)},
        "database/hero/prod": {("ian", "t1"): steps(-20)},
        "pipeline/hero/*": {("ian", "t1"): steps(50)},
        "completion/hero/prod": {("ian", "t1"): steps(75)},  # the rule saw it 15 minutes late
    }
    _, result = audit_of(run_event, data)
    (row,) = result.findings[result.findings.check == "signal_disagreement"].itertuples()
    assert row.user == "ian" and "complete at" in row.message


def test_excluded_idle_and_fast(run_event) -> None:
    parts = [full(f"u{i}", "t1", (50 + i, 80 + i, 120 + i)) for i in range(6)]
    parts.append(full("zip", "t1", (8, 80, 120)))  # hero in 8 minutes when the field needs ~50
    parts.append({"completion/hero/prod": {("test01", "t1"): steps(5), ("nil", "t1"): steps(None)}})
    _, result = audit_of(run_event, merge(*parts), step=30)
    assert "excluded" in checks(result, "test01")
    assert "no_completion" in checks(result, "nil")
    fast = result.findings[result.findings.check == "fast_completion"]
    assert list(fast.user) == ["zip"] and list(fast.exercise) == ["hero"]


def test_undecidable_cutoff_names_both(run_event) -> None:
    # rank 1 and 2 apart by 0.8 points; with a 5-minute collection interval they overlap
    data = merge(full("amy", "t1", (50, 80, 120)), full("ben", "t1", (50, 80, 122)))
    config = replace(NO_COLLECT, top=1, audit=Audit())
    _, result = audit_of(run_event, data, config=config, step=30)
    assert not result.cutoff.decidable and result.cutoff.pairs == [("amy", "ben")]
    named = set(result.findings[result.findings.check == "cutoff_undecidable"].user)
    assert named == {"amy", "ben"} and not result.clean
    # at the resolution of the samples alone (a 30 s interval, a 1 s rule over them, no collection
    # and no lag: 3 x 0.21 points of uncertainty), 0.8 points separate them
    sharp_lineage = replace(Audit(), collect_interval_s=0, component_lag_s=0, eval_interval_s=1)
    _, sharp = audit_of(run_event, data, config=replace(config, audit=sharp_lineage), step=30)
    assert sharp.cutoff.decidable


def test_tie_at_the_cutoff() -> None:
    rob = [
        {"rank": rank, "user": user, "score_min": lo, "score_max": hi, "in_top": True}
        for rank, user, lo, hi in [(1, "a", 10.0, 11.0), (2, "b", 5.0, 5.0), (2, "c", 5.0, 5.0)]
    ]
    cut = decide_cutoff(rob, top=2)
    assert cut.tied == ["b", "c"] and not cut.decidable


def test_partial_response_is_an_error(run_event) -> None:
    con = run_event(MiniEvent(full("ann", "t1", (50, 80, 120)), NO_COLLECT), config=NO_COLLECT, step=30)
    con.execute(
        "update fetches set warnings = ['store eu-1 unreachable'] where query_key = 'participants/*/*'"
    )
    result = run_audit(con, NO_COLLECT)
    (row,) = result.findings[result.findings.check == "partial_response"].itertuples()
    assert row.severity == "error" and "store eu-1 unreachable" in row.message
    assert not result.clean


@pytest.mark.parametrize("model", ["continuous", "stepped"])
def test_score_bounds_contain_the_score(run_event, model) -> None:
    data = merge(full("ann", "t1", (50.5, 80, 120)), full("bob", "t2", (60, 100, 140)))
    config = replace(DEFAULT, model=model)
    _, result = audit_of(run_event, data, config=config, step=30)
    rob = result.robustness
    assert (rob.score_min <= rob.score_max).all()
    assert (rob.score_min == rob.score).all()
    ann = rob.set_index("user").loc["ann"]
    if model == "continuous":  # every completion up to 6.5 minutes earlier: 3 exercises x 2.6 points
        # the sample before (30 s) and the lineage: the rule's input interval (no component series:
        # the 30 s evaluation interval), collect_interval 300 s, component_lag 30 s
        assert ann.score_max - ann.score_min == pytest.approx(3 * (30 + 30 + 300 + 30) * 2 / 300)


def test_audit_of_an_archive_keeps_the_completions_after_its_window(tmp_path: Path) -> None:
    """An archive holds only the window's samples, so a re-audit cannot see completions after
    --to: it carries the export's own findings of them, saying where they come from."""
    out = tmp_path / "early"
    window = ("--from", "2024-10-04T13:15:00Z", "--to", "2024-10-04T14:00:00Z")
    done = run_cli("export", "-q", *window, "--out", str(out))
    assert done.returncode == 0, done.stderr
    archived = pq.read_table(out / "audit.parquet").to_pylist()
    after = [r for r in archived if r["check"] == "completed_after_window"]
    assert len(after) >= 10

    wide = {"COLUMNS": "400"}  # one table row per finding: severity, check and the sentence on a line
    again = run_cli("audit", "--info", "--archive", str(out), env=wide)
    assert again.returncode in (0, 3), again.stderr
    found = ["info", "completed_after_window"]
    rows = [line for line in again.stdout.splitlines() if line.split()[:2] == found]
    assert len(rows) == len(after)
    assert all(CARRIED.strip() in line for line in rows)
    assert f"completed_after_window {len(after)}" in again.stdout

    # a re-audit for another environment does not carry findings about this one
    other = run_cli("audit", "--info", "--archive", str(out), "--env", "dev", env=wide)
    assert other.returncode in (0, 3), other.stderr
    assert not [line for line in other.stdout.splitlines() if "completed_after_window" in line.split()[1:2]]
