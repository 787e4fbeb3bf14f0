"""Byte-identical reruns (issue 17, item 6): two exports of the same event, from a real
Prometheus or from a replay folder, and an export killed while loading then run again, write
the same bytes in every Parquet file, the CSV and the reports; the manifest differs only where
the README says (``created_at``; after a killed load, its load counts)."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from pathlib import Path
from typing import Any

from conftest import MiniEvent, full, merge, server_args
from faultkit import ocq

from ocq_batch.archive.layout import MANIFEST
from ocq_batch.detect.steps import run_steps
from ocq_batch.resources import sql_text

# what a killed run's load leaves stored: the rerun loads only the rest, and its counts say so
# (the number of responses stays: the same requests make the archive)
LOAD_COUNTS = ("responses_already_loaded", "samples_seen", "samples_added", "series_added")


def files(out: Path) -> dict[str, str]:
    """sha256 of every file of the archive but its manifest (the store and the recording are
    working files, not the archive)."""
    names = sorted(p.name for p in out.iterdir() if p.is_file() and p.name != MANIFEST)
    names = [n for n in names if not n.startswith("store.duckdb")]
    assert any(n.endswith(".parquet") for n in names)
    return {n: hashlib.sha256((out / n).read_bytes()).hexdigest() for n in names}


def manifest(out: Path, *dropped_load: str) -> dict[str, Any]:
    data = json.loads((out / MANIFEST).read_text())
    data.pop("created_at")
    for key in dropped_load:
        data["load"].pop(key)
    return data  # type: ignore[no-any-return]


def export(*args: str, stop: str | None = None) -> None:
    proc = ocq("export", "-q", *args, stop=stop)
    assert proc.returncode == 0, proc.stderr


def test_two_exports_from_a_server_and_a_killed_one_are_byte_identical(prometheus, tmp_path: Path) -> None:
    first, second, killed = tmp_path / "first", tmp_path / "second", tmp_path / "killed"
    export(*server_args(prometheus.url, first))
    export(*server_args(prometheus.url, second))
    assert files(second) == files(first)
    assert manifest(second) == manifest(first)
    # killed after 40 answers were loaded (and recorded), then run again: it resumes
    proc = ocq("export", "-q", *server_args(prometheus.url, killed), stop="load:response#40=kill")
    assert proc.returncode == -9, proc.stderr
    export(*server_args(prometheus.url, killed))
    assert files(killed) == files(first)
    assert manifest(killed, *LOAD_COUNTS) == manifest(first, *LOAD_COUNTS)
    # and offline from the recording, into a new folder: the same data files again
    offline = tmp_path / "offline"
    export("--source", str(first / "replay"), *server_args("", offline)[2:])
    parquet = {k: v for k, v in files(first).items() if k.endswith(".parquet") and k != "samples.parquet"}
    assert {k: v for k, v in files(offline).items() if k in parquet} == parquet


def test_two_exports_from_a_replay_folder_and_a_killed_one_are_byte_identical(tmp_path: Path) -> None:
    first, second, killed = tmp_path / "first", tmp_path / "second", tmp_path / "killed"
    export("--out", str(first))
    export("--out", str(second))
    assert files(second) == files(first) and manifest(second) == manifest(first)
    proc = ocq("export", "-q", "--out", str(killed), stop="load:response#30=kill")
    assert proc.returncode == -9, proc.stderr
    export("--out", str(killed))
    assert files(killed) == files(first)
    assert manifest(killed, *LOAD_COUNTS) == manifest(first, *LOAD_COUNTS)


def test_every_sum_adds_in_a_fixed_order(run_event) -> None:
    """A float sum's last bits depend on the order it adds in; rows reach a sum in whatever
    order the store holds them (a server answers concurrently, a resumed run loads in another
    order). Steps 07 (ranking), 08 (timeline) and 09 (robustness) give the same bits whatever
    the order of the scores, and agree with each other bit for bit."""
    rng = random.Random(7)
    at = [tuple(rng.uniform(10, 140) for _ in range(3)) for _ in range(40)]
    con = run_event(MiniEvent(merge(*(full(f"u{i:02d}", "c1", t) for i, t in enumerate(at)))))
    points = con.execute("select user, list(points) from scores group by user").fetchall()
    sensitive = [u for u, p in points if len({sum(q) for q in itertools.permutations(p)}) > 1]
    assert sensitive, "no score whose sum depends on its order: the test could not fail"

    def rebuilt(order: str) -> dict[str, list[tuple[Any, ...]]]:
        con.execute(f"create or replace table scores as select * from scores order by {order}")
        run_steps(con, ["07_ranking", "08_timeline"])
        con.execute(sql_text("audit/09_score_bounds.sql"))
        return {
            t: con.execute(f"from {t} order by all").fetchall() for t in ("ranking", "timeline", "robustness")
        }

    forward = rebuilt("user, exercise")
    for order in ("user, exercise desc", "points", "points desc"):
        assert rebuilt(order) == forward, order
    mismatched = con.execute(
        """
        select count(*) from ranking as r join robustness as b using (user)
        join timeline as t on t.user = r.user and t.ts = (select to_ts from run_params)
        where r.score <> b.score_min or r.score <> t.score
        """
    ).fetchone()
    assert mismatched == (0,)
