"""The installed ``ocq-batch export`` on the bundled demo event, checked independently."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import REPO, run_cli

from ocq_batch.archive.layout import ARCHIVE_VERSION
from ocq_batch.config.model import DEFAULT
from ocq_batch.sim.event import SimParams, build_event

WINDOW = ("2024-10-04T13:15:00Z", "2024-10-04T15:45:00Z")
T_FROM, T_TO = 1728047700.0, 1728047700.0 + 150 * 60


@pytest.fixture(scope="module")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "archive"
    proc = run_cli("export", "--from", WINDOW[0], "--to", WINDOW[1], "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "archive:" in proc.stdout and "★" in proc.stdout
    return out


def expected_ranking() -> list[tuple[str, float, float | None]]:
    """Recompute the demo ranking from the raw recorded JSON with plain Python (no DuckDB)."""
    folder = REPO / "data" / "demo"
    entries = [json.loads(line) for line in (folder / "index.jsonl").read_text().splitlines()]
    first: dict[tuple[str, str], float] = {}
    users: set[str] = set()
    for e in entries:
        doc = json.loads(gzip.decompress((folder / e["file"]).read_bytes()))
        if e["key"].startswith("raw_"):  # kube-state-metrics evidence: no user label, not participation
            continue
        for s in doc["data"]["result"]:
            user = s["metric"]["user"]
            if any(T_FROM <= float(t) <= T_TO for t, _ in s["values"]):
                users.add(user)
            if not e["key"].startswith("completion/") or not e["key"].endswith("/prod"):
                continue
            exercise = e["key"].split("/")[1]
            prev = None
            for t, v in s["values"]:
                t = float(t)
                if not (T_FROM <= t <= T_TO) or v in ("NaN", "+Inf", "-Inf"):
                    continue
                state = float(v) >= 0.5
                if state and prev is not True:
                    key = (user, exercise)
                    first[key] = min(first.get(key, t), t)
                    break
                prev = state
    ranking = []
    for user in sorted(u for u in users if not u.startswith("test")):
        score, last = 0.0, None
        for ex in DEFAULT.exercises:
            c = first.get((user, ex.name))
            if c is None:
                continue
            c_s = (round(c * 1e6) - round(T_FROM * 1e6)) / 1e6  # seconds after T0, to the microsecond
            to_s = T_TO - T_FROM
            score += ex.base + ex.penalty * (ex.expected_s - c_s) / 300 + (to_s - c_s) / 300
            last = c if last is None else max(last, c)
        ranking.append((user, score, last))
    ranking.sort(key=lambda r: (-round(r[1], 6), r[2] if r[2] is not None else float("inf"), r[0]))
    return ranking


def test_demo_ranking_matches_an_independent_computation(demo_archive: Path) -> None:
    got = pq.read_table(demo_archive / "ranking.parquet").to_pylist()
    want = expected_ranking()
    assert [r["user"] for r in got] == [w[0] for w in want]
    assert [r["score"] for r in got] == pytest.approx([w[1] for w in want], abs=1e-9)
    assert [None if r["last_completed_at"] is None else r["last_completed_at"].timestamp() for r in got] == [
        w[2] for w in want
    ]
    assert len(got) == 74


def test_demo_planted_cases_are_visible(demo_archive: Path) -> None:
    cases = build_event(SimParams(start=T_FROM - 900)).cases
    ranking = {r["user"]: r for r in pq.read_table(demo_archive / "ranking.parquet").to_pylist()}
    a, b = cases["near_tie"]
    assert (ranking[a]["rank"], ranking[b]["rank"]) == (30, 31)
    assert 0 < ranking[a]["score"] - ranking[b]["score"] < 2
    assert ranking[a]["in_top"] and not ranking[b]["in_top"]
    for user in cases["finished_nothing"]:
        assert ranking[user]["score"] == 0 and ranking[user]["exercises_completed"] == 0
    comps = pq.read_table(demo_archive / "completions.parquet").to_pandas()
    flap = comps[(comps.user == cases["flap"][0]) & (comps.exercise == "hero") & (comps.env == "prod")]
    assert int(flap.n_flaps.iloc[0]) == 1 and int(flap.n_regressions.iloc[0]) == 1
    mover = comps[comps.user == cases["two_clusters"][0]]
    assert mover.cluster.nunique() == 2
    gap = comps[(comps.user == cases["gap"][0]) & (comps.exercise == "villain") & (comps.env == "prod")].iloc[
        0
    ]
    assert (gap.completed_at - gap.completed_after).total_seconds() > 60
    parts = pq.read_table(demo_archive / "participants.parquet").to_pandas()
    assert sorted(parts[parts.is_excluded].user) == cases["test_account"]
    first = comps[(comps.user == cases["villain_first"][0]) & (comps.env == "prod")].set_index("exercise")
    assert first.loc["villain"].completed_at < first.loc["hero"].completed_at


def test_archive_schema_and_manifest(demo_archive: Path) -> None:
    manifest = json.loads((demo_archive / "manifest.json").read_text())
    assert manifest["schema_version"] == ARCHIVE_VERSION == 2 and manifest["format"] == "ocq-archive"
    assert manifest["window"] == {"from": WINDOW[0], "to": WINDOW[1]}
    assert len(manifest["config"]["digest"]) == 64
    columns = {
        "samples": ["metric", "user", "exercise", "env", "cluster", "component", "ts", "value", "labels"],
        "transitions": ["user", "exercise", "env", "cluster", "ts", "from_value", "to_value"],
        "completions": ["user", "exercise", "env", "cluster", "completed_at", "completed_after", "n_flaps"],
        "scores": ["user", "exercise", "env", "completed_at", "onetime_bonus", "accelerator", "points"],
        "ranking": ["rank", "user", "score", "exercises_completed", "last_completed_at"],
        "timeline": ["user", "ts", "score"],
    }
    for name, cols in columns.items():
        path = demo_archive / f"{name}.parquet"
        schema = pq.read_schema(path)
        assert set(cols) <= set(schema.names), name
        info = manifest["files"][path.name]
        assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert info["rows"] == pq.read_metadata(path).num_rows
        for field in schema:
            if str(field.type).startswith("timestamp"):
                assert str(field.type) == "timestamp[us, tz=UTC]", (name, field.name)
    header = (demo_archive / "ranking.csv").read_text().splitlines()[0]
    assert header.startswith('"rank","user","score"')
    assert "+02:00" in (demo_archive / "ranking.csv").read_text()  # event time zone in the CSV


def test_export_twice_gives_identical_parquet(demo_archive: Path) -> None:
    before = json.loads((demo_archive / "manifest.json").read_text())["files"]
    proc = run_cli("export", "-q", "--from", WINDOW[0], "--to", WINDOW[1], "--out", str(demo_archive))
    assert proc.returncode == 0, proc.stderr
    after = json.loads((demo_archive / "manifest.json").read_text())
    assert {k: v["sha256"] for k, v in after["files"].items()} == {k: v["sha256"] for k, v in before.items()}
    assert after["load"]["samples_added"] == 0
    assert after["load"]["responses_already_loaded"] == after["load"]["responses"]
    assert not list(demo_archive.parent.glob(".archive.*"))  # no staging left behind


def test_timeline_final_point_equals_ranking(demo_archive: Path) -> None:
    timeline = pq.read_table(demo_archive / "timeline.parquet").to_pandas()
    ranking = pq.read_table(demo_archive / "ranking.parquet").to_pandas().set_index("user")
    last = timeline.sort_values("ts").groupby("user").tail(1).set_index("user")
    assert (last.ts.dt.tz is not None) and str(last.ts.dt.tz) == "UTC"
    assert last.score.sort_index().to_numpy() == pytest.approx(ranking.score.sort_index().to_numpy())
