"""The verdict says what to do: the contested places, the nearest decided top N, the errors
that touch the prize winners; on hand-made rows, a hand-made event, the demo and a
500-participant simulated event."""

from __future__ import annotations

import csv
import re
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import MiniEvent, full, merge, run_cli, series, steps

from ocq_batch.audit.run import run_audit
from ocq_batch.audit.verdict import _decided_tops, decide_cutoff
from ocq_batch.config.model import DEFAULT, Audit


def rob(*rows: tuple[int, str, float, float], top: int) -> list[dict]:
    return [
        {"rank": r, "user": u, "score_min": lo, "score_max": hi, "in_top": r <= top} for r, u, lo, hi in rows
    ]


def with_top(rows: list[dict], top: int) -> list[dict]:
    return [{**r, "in_top": r["rank"] <= top} for r in rows]


HAND = [  # intervals drawn so that ranks 3 to 5 overlap across a cut-off at 4, and 2 is apart
    (1, "ann", 100.0, 104.0),
    (2, "bob", 90.0, 94.0),
    (3, "cat", 82.0, 86.0),  # overlaps eve
    (4, "dan", 81.0, 83.0),  # overlaps eve
    (5, "eve", 79.0, 82.5),
    (6, "fay", 60.0, 63.0),
    (7, "gus", 50.0, 52.0),
]


def test_contested_places_and_nearest_decided_top_on_hand_made_rows() -> None:
    rows = rob(*HAND, top=4)
    cut = decide_cutoff(rows, 4)
    assert not cut.decidable
    # inside cat (82..86) and dan (81..83) overlap eve (79..82.5)
    assert cut.pairs == [("dan", "eve"), ("cat", "eve")]
    assert [p.user for p in cut.contested] == ["cat", "dan", "eve"]
    assert cut.contested_ranks == (3, 4 + 1)
    # top 2 (90 > 86) and top 5 (79 > 63) are decided, top 3 is not (82 <= dan's 83)
    assert (cut.below, cut.above) == (2, 5)
    assert cut.nearest() == [5, 2]
    text = cut.sentence()
    assert "ranks 3 to 5 are contested (2 inside the prize, 1 outside)" in text
    assert "nearest decided: top 5 and top 2" in text
    assert "--top 5 or --top 2" in cut.advice()
    assert "eve (rank 5, out, 79.0 to 82.5)" in cut.contested_text()


def test_decided_tops_agree_with_the_pairwise_decision() -> None:
    rows = rob(*HAND, top=4)
    fast = _decided_tops(rows)
    for n in range(1, len(rows)):
        assert fast[n] == decide_cutoff(with_top(rows, n), n).decidable, n


def test_a_tie_straddling_the_cut_off_is_contested_and_skipped() -> None:
    rows = rob((1, "a", 10.0, 10.0), (2, "b", 5.0, 5.0), (2, "c", 5.0, 5.0), (4, "d", 1.0, 1.0), top=2)
    cut = decide_cutoff(rows, 2)
    assert cut.tied == ["b", "c"] and {p.user for p in cut.contested} == {"b", "c"}
    assert (cut.below, cut.above) == (1, 3)  # top 2 splits the shared rank 2; 1 and 3 do not


def test_top_larger_than_the_field_says_so() -> None:
    rows = rob((1, "a", 10.0, 12.0), (2, "b", 9.0, 11.0), top=5)
    cut = decide_cutoff(rows, 5)
    assert cut.decidable and cut.everyone_wins
    assert "--top 5 is more than the 2 participants ranked" in cut.sentence()
    assert "decided" not in cut.sentence()


NO_COLLECT = replace(DEFAULT, audit=replace(Audit(), collect_interval_s=0.0))


def test_hand_made_event_with_a_known_contested_set(run_event) -> None:
    """amy and ben are 0.8 points apart at rank 2 and 3 (contested under a 5-minute collection
    interval), cid and dee far below: the top 2 is contested, the top 1 and top 3 are decided."""
    data = merge(
        full("amy", "t1", (40, 70, 100)),
        full("ben", "t1", (50, 80, 120)),
        full("cid", "t1", (50, 80, 122)),
        full("dee", "t1", (80, 120, 145)),
    )
    config = replace(DEFAULT, top=2)
    con = run_event(MiniEvent(data, config), config=config, step=30)
    result = run_audit(con, config)
    cut = result.cutoff
    assert [(p.rank, p.user, p.in_top) for p in cut.contested] == [(2, "ben", True), (3, "cid", False)]
    assert (cut.below, cut.above) == (1, 3)
    kinds = dict(result.verdict_lines())
    assert "rank 2 to 3" not in kinds["headline"] and "ranks 2 to 3 are contested" in kinds["headline"]
    assert "ben (rank 2, in" in kinds["contested"] and "cid (rank 3, out" in kinds["contested"]
    assert "--top 1 or --top 3" in kinds["advice"]
    # the same event at --top 3 is decided and clean
    con3 = run_event(MiniEvent(data, replace(config, top=3)), config=replace(config, top=3), step=30)
    assert run_audit(con3, replace(config, top=3)).clean


def test_unbounded_and_wide_winners_are_errors_named_in_the_verdict(run_event) -> None:
    gap = [0.0] * 120 + [None] * 80 + [1.0] * 112  # no sample from 55 to 95 minutes: villain's gap
    data = merge(
        full("old", "t1", (0, 70, 100)),
        full("ann", "t1", (45, 80, 120)),
        full("bob", "t1", (50, 80, 120)),
        full("cat", "t1", (52, 85, 125)),
        {"completion/villain/prod": {("ann", "t1"): series(gap, start_min=-5, step_s=30)}},
        full("zed", "t1", (90, 130, 148)),
    )
    data["completion/hero/prod"][("old", "t1")] = steps(-10, step_s=30, start_min=0)  # 1 from the start
    config = replace(NO_COLLECT, top=4)
    con = run_event(MiniEvent(data, config), config=config, step=30)
    result = run_audit(con, config)
    f = result.findings
    unbounded = f[f.check == "unbounded_score"]
    assert list(unbounded.user) == ["old"] and set(unbounded.severity) == {"error"}
    wide = f[f.check == "wide_score"]
    assert list(wide.user) == ["ann"] and "points, more than 2 times" in wide.message.iloc[0]
    errors = [text for kind, text in result.verdict_lines() if kind == "error"]
    assert any(t.startswith("old: unbounded_score: rank 1") for t in errors)
    assert any(t.startswith("ann: wide_score:") for t in errors)
    assert not result.clean  # exit code 3


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("verdict") / "demo"
    assert run_cli("export", "-q", "--out", str(out)).returncode == 0
    return out


def words(text: str) -> str:
    return " ".join(text.split())


def test_demo_verdict_names_the_contested_ranks_and_the_decided_top(demo: Path) -> None:
    proc = run_cli("verify", "--archive", str(demo), env={"COLUMNS": "100"})
    assert proc.returncode == 3
    said = words(proc.stdout)
    assert "the top 30 is NOT decidable at the data's resolution: ranks 22 to 31 are contested" in said
    assert "nearest decided: top 31 and top 1" in said
    assert "user64 (rank 31, out, 121.5 to 129.3)" in said
    assert "--top 31 or --top 1 (e.g. 'ocq-batch verify --top 31')" in said
    decided = run_cli("verify", "--archive", str(demo), "--top", "31")
    assert "the top 31 is decided at the data's resolution" in words(decided.stdout)
    # the ranking marks the contested rows; the CSV has the column
    with open(demo / "ranking.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    contested = {r["user"] for r in table if r["contested"] == "true"}
    rob = pq.read_table(demo / "robustness.parquet").to_pylist()
    assert contested == decide_cutoff(rob, 30).contested_users
    assert len(contested) == 10 and "user64" in contested


def test_top_larger_than_the_field_on_the_demo(demo: Path) -> None:
    proc = run_cli("audit", "--info", "--archive", str(demo), "--top", "100")
    said = words(proc.stdout)
    assert "--top 100 is more than the 74 participants ranked" in said and "top_exceeds_field" in said


def test_a_500_participant_event(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    done = run_cli("simulate", "--participants", "500", "--seed", "11", "--out", str(sim))
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    proc = run_cli("export", "--source", str(sim), "--out", str(out), env={"COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    rob = pq.read_table(out / "robustness.parquet").to_pylist()
    cut = decide_cutoff(rob, 30)
    assert not cut.decidable and cut.contested_ranks is not None
    lo, hi = cut.contested_ranks
    said = words(proc.stdout)
    assert f"ranks {lo} to {hi} are contested" in said
    # the ranking printed stops a few places after the contested range, not at 500
    places = [line for line in proc.stdout.splitlines() if re.match(r"^ *★?\?? +\d+ +user\d+ ", line)]
    assert len(places) == hi + 3  # AROUND places after the last contested one
    assert "more participant(s) below; --all shows everyone" in said
    fast = _decided_tops(rob)
    for n in range(1, len(rob), 23):
        assert fast[n] == decide_cutoff(with_top(rob, n), n).decidable, n
    nearest = cut.nearest()[0]
    again = run_cli("audit", "--archive", str(out), "--top", str(nearest))
    assert f"the top {nearest} is decided at the data's resolution" in words(again.stdout)


def test_verify_user_shows_any_participants_card(demo: Path) -> None:
    proc = run_cli(
        "verify", "--archive", str(demo), "--user", "user64", "--user", "user03", env={"COLUMNS": "200"}
    )
    assert proc.returncode == 3  # the exit code still follows the verdict on the top 30
    titles = [line for line in proc.stdout.splitlines() if line.startswith("#")]
    assert [t.split(":")[0] for t in titles] == ["#31 user64", "#23 user03"]  # in the order asked
    assert "2 participant(s) checked" in proc.stdout and "user64 (rank 31, out" in words(proc.stdout)
    typo = run_cli("verify", "--archive", str(demo), "--user", "usr64")
    assert typo.returncode == 1 and "did you mean user64" in typo.stderr and not typo.stdout
    excluded = run_cli("verify", "--archive", str(demo), "--user", "test01")
    assert excluded.returncode == 1 and "excluded by [event] exclude_users" in excluded.stderr


def test_one_data_gap_finding_per_outage_naming_every_series(demo: Path) -> None:
    """user23's outage stops every series of its namespaces at once: one finding per component and
    span, whose series column names each series once (the gaps themselves are found per series)."""
    gaps = [f for f in pq.read_table(demo / "audit.parquet").to_pylist() if f["check"] == "data_gap"]
    assert {f["user"] for f in gaps} == {"user23"}
    named = [s for f in gaps for s in f["series"]]
    assert len(named) == len(set(named)) > 3 * len(gaps)  # every series once, grouped
    for f in gaps:
        assert all(s.endswith("}") and 'cluster="table5"' in s for s in f["series"])
        assert (f"in {len(f['series'])} series (" in f["message"]) == (len(f["series"]) > 1)
        assert f["env"] is None or all(f["env"] in s for s in f["series"])
